-- P_Artikel, article lines of an order with their dimensions.
select
    id              as article_line_id,
    id_a_kopf       as order_id,
    position,
    artikelid       as article_id,
    dim1::numeric   as dim_1,
    dim2::numeric   as dim_2,
    dim3::numeric   as dim_3,
    _synced_at      as synced_at
from {{ source('erp', 'p_artikel') }}
