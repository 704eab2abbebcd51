"""The names of the views' bookkeeping columns, chosen per table."""

from __future__ import annotations

from binlake.catalog.sql import Bookkeeping, bookkeeping


def test_the_usual_names_unless_a_column_has_one() -> None:
    assert bookkeeping(["id", "file", "row_", "_files", "binlake_commit_order"]) == Bookkeeping()
    names = bookkeeping(["id", "_FILE"])
    assert (names.is_cdc, names.file, names.row, names.rank) == ("__is_cdc", "__file", "__row", "__binlake_rank")


def test_every_name_differs_from_every_column_ignoring_case() -> None:
    usual = list(Bookkeeping())
    for columns in (usual, [n.upper() for n in usual], [*usual, *("_" + n for n in usual)], ["_binlake_rank"]):
        names = bookkeeping(columns)
        assert len(set(names)) == len(names)
        assert not {n.lower() for n in names} & {c.lower() for c in columns}, columns


def test_letters_an_engine_may_fold_to_ascii() -> None:
    # Java's equalsIgnoreCase takes 'ſ' (long s) for 's' and the Kelvin sign for 'k'.
    assert bookkeeping(["_iſ_cdc"]).is_cdc == "__is_cdc"
    assert bookkeeping(["_binlake_ran\u212a"]).rank == "__binlake_rank"
