"""Synthetic field-service exports (``logistics/visits/*.csv``, ``logistics/customers/*.csv``).

The real exports (DESIGN.md §6.7) have these shapes, reproduced here so that the demo, the tests and
the benchmark see what a site sends:

* visits: ``;``-separated, a header ``id;id_cliente;angel;polo;data_limite;data_de_atendimento``,
  ``angel`` = the technician's full name, ``polo`` = the base (``CE - JUAZEIRO DO NORTE``), dates
  in five formats (``DD/MM/YYYY``, ``DD/MM/YYYY HH:MM``, ``DD/MM/YYYY HH:MM:SS``, ``YYYY-MM-DD``,
  ``YYYY-MM-DD HH:MM:SS``; slash dates are day-first), written by a spreadsheet tool: UTF-8 with a
  BOM and ``\\r\\n`` line ends;
* customers: ``id_cliente;name;email;phone``, **no header**, UTF-8 without a BOM, ``\\n`` line ends.

A few bad rows are mixed in on purpose (``bad_rows``): an impossible or unreadable date, a row with
a missing column, a non-numeric id, a name in latin-1 (not valid UTF-8). Every file is a pure
function of its arguments and the seed.

The people are invented: names are drawn from common Brazilian first names and surnames.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "BASES",
    "VISITS_HEADER",
    "customer_lines",
    "main",
    "technicians",
    "visit_lines",
    "write_logistics",
]

VISITS_HEADER = "id;id_cliente;angel;polo;data_limite;data_de_atendimento"
# Base -> probability that a visit is done on or before its deadline date (so SLA differs by base).
BASES: dict[str, float] = {
    "CE - JUAZEIRO DO NORTE": 0.91,
    "CE - FORTALEZA": 0.86,
    "CE - SOBRAL": 0.82,
    "CE - CRATO": 0.88,
    "CE - IGUATU": 0.79,
    "PE - PETROLINA": 0.84,
    "PI - TERESINA": 0.76,
    "BA - JUAZEIRO": 0.89,
    "RN - MOSSORO": 0.81,
    "PB - CAMPINA GRANDE": 0.87,
}
_FIRST = (
    "JOSE", "FRANCISCO", "ANTONIO", "JOAO", "PEDRO", "PAULO", "CARLOS", "LUCAS", "MARCOS", "RAIMUNDO",
    "LUIZ", "GABRIEL", "RAFAEL", "DANIEL", "MARCELO", "BRUNO", "EDUARDO", "FELIPE", "RODRIGO", "MANOEL",
    "MARIA", "ANA", "FRANCISCA", "ANTONIA", "ADRIANA", "JULIANA", "MARCIA", "FERNANDA", "PATRICIA", "ALINE",
)  # fmt: skip
_SURNAMES = (
    "SILVA", "SANTOS", "OLIVEIRA", "SOUZA", "RODRIGUES", "FERREIRA", "ALVES", "PEREIRA", "LIMA", "GOMES",
    "COSTA", "RIBEIRO", "MARTINS", "CARVALHO", "ALMEIDA", "LOPES", "SOARES", "FERNANDES", "VIEIRA", "BARBOSA",
    "ROCHA", "DIAS", "NASCIMENTO", "ANDRADE", "MOREIRA", "NUNES", "MARQUES", "MACHADO", "MENDES", "FREITAS",
    "CAVALCANTE", "BEZERRA", "SAMPAIO", "TAVARES", "ARAUJO", "BATISTA", "CORDEIRO", "LEITE", "PINHEIRO",
)  # fmt: skip
_ACCENTED = {
    "JOSE": "JOSÉ",
    "JOAO": "JOÃO",
    "ANTONIO": "ANTÔNIO",
    "ARAUJO": "ARAÚJO",
    "CONCEICAO": "CONCEIÇÃO",
}
_DOMAINS = ("gmail.com", "hotmail.com", "yahoo.com.br", "uol.com.br", "outlook.com", "bol.com.br")
_DDD = ("88", "85", "87", "86", "74", "84", "83")


def _fmt_date(rng: random.Random, day: dt.date, hour: int, minute: int, second: int) -> str:
    """The same moment in one of the five formats of the exports (slash dates day-first)."""
    f = rng.randrange(5)
    if f == 0:
        return f"{day.day:02d}/{day.month:02d}/{day.year}"
    if f == 1:
        return f"{day.day:02d}/{day.month:02d}/{day.year} {hour:02d}:{minute:02d}"
    if f == 2:
        return f"{day.day:02d}/{day.month:02d}/{day.year} {hour:02d}:{minute:02d}:{second:02d}"
    if f == 3:
        return day.isoformat()
    return f"{day.isoformat()} {hour:02d}:{minute:02d}:{second:02d}"


def _full_name(rng: random.Random, accents: bool = True) -> str:
    parts = [rng.choice(_FIRST), *rng.sample(_SURNAMES, rng.choice((2, 2, 3)))]
    if rng.random() < 0.3:
        parts.insert(len(parts) - 1, rng.choice(("DA", "DE", "DOS", "DAS")))
    if accents:
        parts = [_ACCENTED.get(p, p) if rng.random() < 0.5 else p for p in parts]
    return " ".join(parts)


def technicians(seed: int = 42, n: int = 120) -> list[tuple[str, str]]:
    """``n`` technicians (full name, base), every base staffed."""
    rng = random.Random(f"technicians-{seed}")
    bases = list(BASES)
    names: set[str] = set()
    out = []
    while len(out) < n:
        name = _full_name(rng, accents=False)
        if name in names:
            continue
        names.add(name)
        out.append((name, bases[len(out) % len(bases)]))
    return out


_BAD_VISIT_KINDS = ("bad_date", "missing_column", "bad_id", "latin1", "impossible_date", "bad_customer")


def visit_lines(
    n: int,
    *,
    customers: int,
    seed: int = 42,
    end: dt.date | None = None,
    days: int = 90,
    bad_rows: int = 0,
    first_id: int = 1,
    header: bool = True,
) -> Iterator[bytes]:
    """Lines (without line ends, as UTF-8 bytes) of a visits export of ``n`` visits.

    Visits are spread over the ``days`` days up to ``end`` (default yesterday), Monday to Saturday,
    each by a technician of the base serving it, for a customer among ``1..customers``. The
    deadline is 1–5 days after the request; most visits are on or before it (per-base rate, see
    :data:`BASES`), the others 1–6 days late. ``bad_rows`` bad rows are spread over the file.
    """
    rng = random.Random(f"visits-{seed}-{first_id}")
    end = end or (dt.date.today() - dt.timedelta(days=1))
    start = end - dt.timedelta(days=days - 1)
    staff = technicians(seed)
    span = (end - start).days + 1
    bad_every = n // bad_rows if bad_rows else 0
    if header:
        yield VISITS_HEADER.encode()
    for i in range(n):
        visit_id = first_id + i
        name, base = staff[rng.randrange(len(staff))]
        day = start + dt.timedelta(days=rng.randrange(span))
        if day.weekday() == 6:  # no visits on Sundays
            day -= dt.timedelta(days=1 if day > start else -1)
        lead = rng.randint(1, 5)
        deadline = day + dt.timedelta(days=lead) if rng.random() < 0.5 else day
        if rng.random() < BASES[base]:
            visit = deadline - dt.timedelta(days=rng.choice((0, 0, 0, 1, 1, 2)))
        else:
            visit = deadline + dt.timedelta(days=rng.randint(1, 6))
        visit = min(visit, end)
        hh, mm, ss = rng.randint(7, 18), rng.randrange(60), rng.randrange(60)
        row = [
            str(visit_id),
            str(rng.randint(1, customers)),
            name,
            base,
            _fmt_date(rng, deadline, 18, 0, 0),
            _fmt_date(rng, visit, hh, mm, ss),
        ]
        if bad_every and i % bad_every == bad_every // 2 and (i // bad_every) < bad_rows:
            yield _spoil_visit(row, _BAD_VISIT_KINDS[(i // bad_every) % len(_BAD_VISIT_KINDS)])
            continue
        yield ";".join(row).encode()


def _spoil_visit(row: list[str], how: str) -> bytes:
    if how == "bad_date":
        row[5] = "ontem"
    elif how == "impossible_date":
        row[4] = "31/02/2021"
    elif how == "missing_column":
        del row[3]
    elif how == "bad_id":
        row[0] = "V" + row[0]
    elif how == "bad_customer":
        row[1] = row[1] + "x"
    elif how == "latin1":  # a spreadsheet saved this one row in latin-1
        return ";".join(row[:2] + ["JOSÉ DA CONCEIÇÃO"] + row[3:]).encode("latin-1")
    return ";".join(row).encode()


def customer_lines(n: int, *, seed: int = 42, bad_rows: int = 0, first_id: int = 1) -> Iterator[bytes]:
    """Lines (UTF-8 bytes, no line ends) of a customers export: ``id_cliente;name;email;phone``."""
    rng = random.Random(f"customers-{seed}-{first_id}")
    bad_every = n // bad_rows if bad_rows else 0
    for i in range(n):
        cid = first_id + i
        name = _full_name(rng)
        plain = name.translate(str.maketrans("ÉÃÔÚÇ", "EAOUC")).lower().split()
        email = f"{plain[0]}.{plain[-1]}{rng.randrange(100)}@{rng.choice(_DOMAINS)}"
        phone = f"({rng.choice(_DDD)}) 9{rng.randrange(1000, 9999)}-{rng.randrange(1000, 9999)}"
        if rng.random() < 0.03:
            email = ""  # not every customer gave an email
        row = [str(cid), name, email, phone]
        if bad_every and i % bad_every == bad_every // 2 and (i // bad_every) < bad_rows:
            k = (i // bad_every) % 3
            if k == 0:
                row[0] = f"C-{cid}"
            elif k == 1:
                row = row[:3]
            else:
                yield ";".join(row).encode("latin-1", errors="replace")
                continue
        yield ";".join(row).encode()


def _write(path: Path, lines: Iterator[bytes], *, bom: bool, crlf: bool) -> int:
    """Write ``lines`` atomically (temporary name, then rename, as an upload tool would)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    sep = b"\r\n" if crlf else b"\n"
    n = 0
    with open(tmp, "wb") as fh:
        if bom:
            fh.write(b"\xef\xbb\xbf")
        batch: list[bytes] = []
        for line in lines:
            batch.append(line)
            n += 1
            if len(batch) >= 8192:
                fh.write(sep.join(batch) + sep)
                batch.clear()
        if batch:
            fh.write(sep.join(batch) + sep)
    tmp.replace(path)
    return n


def write_logistics(
    landing: Path,
    *,
    visits: int = 50_000,
    customers: int = 20_000,
    seed: int = 42,
    end: dt.date | None = None,
    days: int = 90,
    bad_rows: int | None = None,
    name: str | None = None,
) -> list[Path]:
    """Write one visits export and one customers export below ``landing/logistics/``.

    ``bad_rows`` per file defaults to about one in 5,000 rows (at least 6). Returns the paths.
    """
    end = end or (dt.date.today() - dt.timedelta(days=1))
    stamp = name or end.strftime("%Y%m%d")
    bad_v = max(6, visits // 5000) if bad_rows is None else bad_rows
    bad_c = max(3, customers // 5000) if bad_rows is None else bad_rows
    vpath = landing / "logistics" / "visits" / f"visitas_{stamp}.csv"
    cpath = landing / "logistics" / "customers" / f"clientes_{stamp}.csv"
    _write(
        vpath,
        visit_lines(visits, customers=customers, seed=seed, end=end, days=days, bad_rows=bad_v),
        bom=True,
        crlf=True,
    )
    _write(cpath, customer_lines(customers, seed=seed, bad_rows=bad_c), bom=False, crlf=False)
    return [vpath, cpath]


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``python -m factory_assets.demo.logistics --landing DIR [--visits N] [--customers N]``."""
    parser = argparse.ArgumentParser(
        prog="python -m factory_assets.demo.logistics",
        description="Write synthetic field-service exports (visits, customers) into a landing folder.",
    )
    parser.add_argument("--landing", type=Path, required=True, help="landing-zone root folder")
    parser.add_argument("--visits", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--bad-rows", type=int, default=None, help="bad rows per file (default ~1/5000)")
    args = parser.parse_args(argv)
    for p in write_logistics(
        args.landing, visits=args.visits, customers=args.customers, seed=args.seed, bad_rows=args.bad_rows
    ):
        print(f"{p} ({p.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
