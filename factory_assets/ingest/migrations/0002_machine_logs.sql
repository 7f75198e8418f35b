-- Machine-centre log files (DESIGN.md §6.1). One file = one session (centre, production_date);
-- a newer version of the same file replaces every row of that session.
CREATE TABLE raw.machine_logs__sessions (
    centre            text        NOT NULL,
    production_date   date        NOT NULL,
    file_version_id   bigint      NOT NULL REFERENCES raw.ingest_ledger (id),
    path              text        NOT NULL,
    sha256            text        NOT NULL,
    lines_in          integer     NOT NULL,
    lines_parsed      integer     NOT NULL,
    lines_blank       integer     NOT NULL,
    lines_rejected    integer     NOT NULL,
    first_event_at    timestamptz,
    last_event_at     timestamptz,
    open_stop_closed_at_eof boolean NOT NULL DEFAULT false,
    parser_version    text        NOT NULL,
    loaded_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (centre, production_date),
    CHECK (lines_in = lines_parsed + lines_blank + lines_rejected)
);

CREATE TABLE raw.machine_logs__job_profiles (
    centre            text        NOT NULL,
    production_date   date        NOT NULL,
    line_no           integer     NOT NULL,
    event_at          timestamptz NOT NULL,
    reference         text        NOT NULL,
    length_mm         numeric,
    colour            text,
    details           text        NOT NULL,
    PRIMARY KEY (centre, production_date, line_no)
);

CREATE TABLE raw.machine_logs__pieces (
    centre            text        NOT NULL,
    production_date   date        NOT NULL,
    line_no           integer     NOT NULL,
    event_at          timestamptz NOT NULL,
    job_profile_line_no integer,            -- latest preceding JobProfiel line, NULL if none yet
    reference         text,
    details           text,
    PRIMARY KEY (centre, production_date, line_no)
);

CREATE TABLE raw.machine_logs__waits (
    centre            text        NOT NULL,
    production_date   date        NOT NULL,
    line_no           integer     NOT NULL,
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL,
    seconds           numeric     NOT NULL CHECK (seconds >= 0),
    PRIMARY KEY (centre, production_date, line_no)
);

CREATE TABLE raw.machine_logs__stops (
    centre            text        NOT NULL,
    production_date   date        NOT NULL,
    line_no           integer     NOT NULL,          -- line of the MachineStop event
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL,
    seconds           numeric     NOT NULL CHECK (seconds >= 0),
    end_line_no       integer,                       -- line of the MachineStart, NULL when closed at EOF
    closed_at_eof     boolean     NOT NULL DEFAULT false,
    PRIMARY KEY (centre, production_date, line_no)
);

CREATE TABLE raw.machine_logs__rejected_lines (
    centre            text        NOT NULL,
    production_date   date        NOT NULL,
    file_version_id   bigint      NOT NULL REFERENCES raw.ingest_ledger (id),
    line_no           integer     NOT NULL,
    reason            text        NOT NULL,
    detail            text,
    line_text         text        NOT NULL,
    PRIMARY KEY (centre, production_date, line_no)
);
