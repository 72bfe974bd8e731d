"""Everything shipped in data/ passes checksum verification and names the command that made it."""

from rlinside import store


def test_every_shipped_artifact_verifies_and_has_a_command():
    found = [p for where, p in store.iter_artifacts() if where == "data"]
    assert found, "data/ holds no artifacts"
    for p in found:
        a = store.verify(p)
        assert a.manifest.get("command"), f"{p} has no command in its manifest"
