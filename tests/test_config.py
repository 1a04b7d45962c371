"""Reading config/pipeline.toml: paths relative to the project root wherever the file is, every problem at once."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from config.settings import PROJECT_ROOT, ConfigError, load_settings
from tests.conftest import ROOT, SEEDS

SHIPPED = ROOT / "config" / "pipeline.toml"
PROBLEM_LINE = re.compile(r"^error: (?P<file>[^:]+): (?P<where>\[\[?\w+\]\]?(?:\[\d+\])?(?:\.\w+)?): (?P<problem>.+)$")


def _copy_elsewhere(tmp_path: Path, replace: tuple[str, str] | None = None) -> Path:
    """The shipped config copied into a folder that is neither the project nor called config/."""
    folder = tmp_path / "elsewhere"
    folder.mkdir(exist_ok=True)
    copy = folder / "pipeline.toml"
    text = SHIPPED.read_text(encoding="utf-8")
    if replace:
        assert replace[0] in text
        text = text.replace(*replace)
    copy.write_text(text, encoding="utf-8")
    return copy


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.ingest", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_a_copy_in_another_folder_reads_its_paths_from_the_project_root(tmp_path):
    settings = load_settings(_copy_elsewhere(tmp_path))
    assert settings.tags.taxonomy == PROJECT_ROOT / "config" / "issues.toml"
    assert settings.warehouse.catalog == f"sqlite:{PROJECT_ROOT / 'warehouse' / 'catalog.sqlite'}"
    assert settings.warehouse.reports_dir == PROJECT_ROOT / "warehouse" / "reports"
    assert [s.path for s in settings.sources] == [PROJECT_ROOT / "seeds"]
    # the same in a folder that is called config/ but is not the project's
    (tmp_path / "config").mkdir()
    other = tmp_path / "config" / "pipeline.toml"
    shutil.copy(SHIPPED, other)
    assert load_settings(other).tags.taxonomy == PROJECT_ROOT / "config" / "issues.toml"


def test_an_unchanged_copy_in_another_folder_runs(prefect_api, tmp_path):
    copy = _copy_elsewhere(tmp_path)
    result = _cli("--config", str(copy), "--dry-run", "--warehouse", str(tmp_path / "catalog.sqlite"),
                  env={"PREFECT_API_URL": prefect_api})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "NATO-like" in result.stdout and "(dry run: nothing stored)" in result.stdout
    assert len(list(SEEDS.iterdir())) == 2
    # a dry run on a warehouse that is not there yet makes none (no catalog, data folder or lock file)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere"], sorted(p.name for p in tmp_path.iterdir())


def test_an_absolute_path_is_used_as_given(tmp_path):
    taxonomy = tmp_path / "mine" / "issues.toml"
    taxonomy.parent.mkdir()
    shutil.copy(ROOT / "config" / "issues.toml", taxonomy)
    copy = _copy_elsewhere(tmp_path, ('taxonomy = "config/issues.toml"', f'taxonomy = "{taxonomy.as_posix()}"'))
    assert load_settings(copy).tags.taxonomy == taxonomy


def test_a_path_not_found_names_the_path_tried_and_the_rule(tmp_path):
    (tmp_path / "elsewhere" / "mine").mkdir(parents=True)
    shutil.copy(ROOT / "config" / "issues.toml", tmp_path / "elsewhere" / "mine" / "issues.toml")
    copy = _copy_elsewhere(tmp_path, ('taxonomy = "config/issues.toml"', 'taxonomy = "mine/issues.toml"'))
    with pytest.raises(ConfigError) as caught:
        load_settings(copy)
    assert caught.value.problems == [
        f"{copy}: [tags].taxonomy: {PROJECT_ROOT / 'mine' / 'issues.toml'}: file not found (a relative path is read "
        f"from the project root, {PROJECT_ROOT}; an absolute one as given)"]


def test_a_config_file_not_found_names_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as relative:
        load_settings(Path("nope.toml"))
    assert str(relative.value) == f"nope.toml: file not found (looked for {tmp_path / 'nope.toml'})"
    with pytest.raises(ConfigError) as absolute:
        load_settings(tmp_path / "gone.toml")
    assert str(absolute.value) == f"{tmp_path / 'gone.toml'}: file not found"


def test_every_config_problem_is_reported_at_once_in_one_format(tmp_path, write_config):
    cfg = write_config('[dedup]\nnear_threshold = "high"\nnum_perm = 8\nshingle = 4\n'
                       '[summary]\nalgorithm = "magic"\n[typo]\nx = 1\n[http]\nconnect_timeout = 0\nread_timeout = -1\n'
                       '[[sources]]\nname = "a"\nkind = "folder"\npath = "seeds"\n'
                       '[[sources]]\nname = "a"\nkind = "feed"\nurl = "ftp://example.org/feed"\n'
                       '[[sources]]\nkind = "file"\npath = "x.txt"\n')
    result = _cli("--config", str(cfg))
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    found = [PROBLEM_LINE.match(line) for line in lines]
    assert all(found), lines
    assert {m["file"] for m in found} == {str(cfg)}
    assert sorted(m["where"] for m in found) == sorted([
        "[dedup].near_threshold", "[dedup].num_perm", "[dedup].shingle", "[summary].algorithm", "[typo]",
        "[http].connect_timeout", "[http].read_timeout",
        "[[sources]][2].name", "[[sources]][2].url", "[[sources]][3]"]), lines
    problems = {m["where"]: m["problem"] for m in found}
    assert problems["[dedup].near_threshold"] == "expected a number, got 'high'"
    assert problems["[dedup].num_perm"] == "must be between 16 and 1024"
    assert problems["[dedup].shingle"].startswith("unknown key (known: ")
    assert problems["[[sources]][2].name"] == "'a' is used twice"
    assert problems["[[sources]][3]"] == "missing key(s) name"
    assert problems["[http].connect_timeout"] == problems["[http].read_timeout"] == "must be positive (seconds)"
    assert not (tmp_path / "catalog.sqlite").exists()


def test_no_file_extensions_to_read_is_a_problem(write_config):
    # with none, every folder source read nothing, and each file was counted as 'passed over'
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config('[discover]\nextensions = []\n'))
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "[discover].extensions: must name at least one (with none, a folder source reads no file)"]


def test_a_source_key_its_kind_does_not_read_an_empty_name_or_an_empty_tag_is_a_problem(tmp_path, write_config):
    cfg = write_config('[[sources]]\nname = "desk"\nkind = "folder"\npath = "seeds"\nurl = "https://example.org/feed"\n'
                       '[[sources]]\nname = "wire"\nkind = "feed"\nurl = "https://example.org/rss"\npath = "seeds"\n'
                       '[[sources]]\nname = " "\nkind = "feed"\nurl = "https://example.org/atom"\ntags = ["beat", ""]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg)
    assert caught.value.problems == [
        f"{cfg}: [[sources]][1].url: is not read for a folder source (it reads path)",
        f"{cfg}: [[sources]][2].path: is not read for a feed source (it reads url)",
        f"{cfg}: [[sources]][3].name: must not be empty (it names the source in the digest and its health)",
        f"{cfg}: [[sources]][3].tags: must not hold an empty tag, got ['beat', '']",
    ]


def test_an_empty_path_is_one_problem(write_config):
    cfg = write_config('[[sources]]\nname = "desk"\nkind = "folder"\npath = ""\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(cfg)
    assert caught.value.problems == [f"{cfg}: [[sources]][1].path: expected a path string, got ''"]


def test_a_feed_url_with_spaces_around_it_is_the_url_without_them_everywhere(write_config):
    # a URL pasted with a space or a tab around it is the URL (as in a browser's address bar), in the
    # config as on the command line, so a feed's name, health and --source all meet on one form
    from config.settings import source_from_argument, with_overrides

    cfg = write_config('[[sources]]\nname = "wire"\nkind = "feed"\nurl = " https://example.org/rss\\t"\n')
    settings = load_settings(cfg)
    assert [s.url for s in settings.sources] == ["https://example.org/rss"]
    assert source_from_argument(" https://example.org/rss ", settings.sources).name == "wire"
    given = source_from_argument(" https://example.org/other\n")
    assert (given.name, given.url) == ("https://example.org/other", "https://example.org/other")
    twice = with_overrides(settings, sources=["https://example.org/other", " https://example.org/other "])
    assert [s.name for s in twice.sources] == ["https://example.org/other"]
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config('[[sources]]\nname = "blank"\nkind = "feed"\nurl = "  "\n'))
    assert [p.split(": ", 1)[1] for p in caught.value.problems] == [
        "[[sources]][1].url: must be an http(s) URL for a feed source"]


def test_bad_toml_names_the_line(tmp_path):
    copy = _copy_elsewhere(tmp_path, ("num_perm = 128", "num_perm = = 128"))
    line = next(i for i, text in enumerate(copy.read_text(encoding="utf-8").splitlines(), 1) if "= = 128" in text)
    result = _cli("--config", str(copy))
    assert result.returncode == 2
    [message] = result.stderr.strip().splitlines()
    assert message.startswith(f"error: {copy}: line {line}, column ") and "not valid TOML: Invalid value" in message


def test_bad_toml_at_the_end_of_the_file_names_the_last_line(tmp_path):
    cfg = tmp_path / "cut.toml"
    cfg.write_text('[summary]\nsentences = 3\noops = [1,', encoding="utf-8")
    result = _cli("--config", str(cfg))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {cfg}: line 3, column 11: not valid TOML: Invalid value (at the end of the file)"]


def test_a_config_not_in_utf8_names_the_line_and_column_of_the_first_bad_byte(tmp_path):
    cfg = tmp_path / "latin1.toml"
    cfg.write_bytes('[summary]\nsentences = 2 # résumés\n'.encode("latin-1"))
    result = _cli("--config", str(cfg))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {cfg}: line 2, column 18: not UTF-8 text (byte 0xe9); save the file as UTF-8"]


def test_a_config_saved_with_a_byte_order_mark_is_read(tmp_path):
    cfg = tmp_path / "bom.toml"
    cfg.write_bytes(b"\xef\xbb\xbf" + '[summary]\nsentences = 2 # résumés\n'.encode("utf-8"))
    assert load_settings(cfg).summary.sentences == 2


def test_another_warehouse_named_for_a_run_keeps_its_files_and_digests_apart(tmp_path):
    from config.settings import with_overrides

    settings = load_settings()
    configured = settings.warehouse
    assert with_overrides(settings, warehouse=configured.catalog).warehouse == configured
    other = with_overrides(settings, warehouse=str(tmp_path / "b.sqlite")).warehouse
    assert (other.catalog, other.data_path, other.reports_dir) == (
        f"sqlite:{tmp_path / 'b.sqlite'}", "", Path(f"{tmp_path / 'b.sqlite'}.reports"))
    for conninfo, folder in (("postgres:dbname=news host=db", "postgres-db-news"),
                             ("postgres:host=db2 dbname='my desk' user=x", "postgres-db2-my_desk"),
                             ("postgres:postgresql://u@db:5432/lake", "postgres-db-lake"),
                             ("postgres:host=db", "postgres-db-default"),
                             ("postgres:dbname=news", "postgres-local-news"),
                             ("postgres:host=db port=5433 dbname=news", "postgres-db-5433-news"),
                             ("postgres:postgresql://db/my%20desk", "postgres-db-my_desk")):
        found = with_overrides(settings, warehouse=conninfo).warehouse
        assert (found.catalog, found.data_path, found.reports_dir) == (
            conninfo, "", configured.reports_dir / folder), conninfo
    # the configured postgres catalog, written another way, is not another warehouse
    shared = dataclasses.replace(settings, warehouse=dataclasses.replace(
        configured, catalog="postgres:dbname=news host=db user=desk", data_path="/srv/lake"))
    for same in ("postgres:host=db  user=desk dbname='news'", "postgres:dbname=news host=db port=5432 user=other",
                 "postgres:postgresql://reader@db:5432/news"):
        assert with_overrides(shared, warehouse=same).warehouse == shared.warehouse, same


def test_a_source_named_for_a_run_is_the_configured_one_it_names(tmp_path, write_config, monkeypatch):
    from config.settings import with_overrides

    folder = tmp_path / "wire"
    folder.mkdir()
    settings = load_settings(write_config(
        '[[sources]]\nname = "gazette"\nkind = "feed"\nurl = "https://example.org/feed.rss"\ntags = ["local"]\n'
        'enabled = false\n'
        f'[[sources]]\nname = "wire"\nkind = "folder"\npath = "{folder.as_posix()}"\n'
        f'[[sources]]\nname = "gone"\nkind = "folder"\npath = "{(tmp_path / "moved").as_posix()}"\n'))
    gazette, wire, gone = settings.sources

    def named(*args: str) -> tuple:
        return with_overrides(settings, sources=list(args)).sources

    assert named("gazette") == named("HTTPS://Example.org/feed.rss/?utm_source=x#top") == (
        gazette.__class__(**{**gazette.__dict__, "enabled": True}),)
    assert named(str(folder), "wire", "gazette") == (wire, named("gazette")[0])
    assert named(str(tmp_path / "moved")) == named("gone") == (gone,), "a configured path that is missing now"
    [adhoc] = named("https://example.org/other.rss")
    assert (adhoc.name, adhoc.url, adhoc.tags) == ("https://example.org/other.rss", "https://example.org/other.rss", ())
    with pytest.raises(ConfigError, match="--source nowhere: no such file or folder, feed URL or configured source"):
        named("nowhere")
    [by_url] = named(folder.as_uri() + "/")  # a file: URL is its path
    assert (by_url.kind, by_url.path) == ("folder", folder)
    # an existing file or folder is read as such, even where a configured source has its name
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gazette").mkdir()
    [here] = named("gazette")
    assert (here.kind, here.path, here.url) == ("folder", tmp_path / "gazette", None)


def test_an_empty_source_or_warehouse_on_the_command_line_is_refused(tmp_path, write_config, monkeypatch):
    """An unset shell variable ("--source $DIR") must not read the working folder or use another warehouse."""
    from config.settings import with_overrides

    settings = load_settings(write_config())
    monkeypatch.chdir(tmp_path)
    for blank in ("", "  "):
        with pytest.raises(ConfigError, match=r"^--source: an empty value \("):
            with_overrides(settings, sources=[str(tmp_path / "config"), blank])
        with pytest.raises(ConfigError, match=r"^--warehouse: an empty value \("):
            with_overrides(settings, warehouse=blank)
    assert with_overrides(settings, warehouse=None) == settings


def test_a_cron_of_other_than_five_fields_is_a_config_problem(write_config):
    for key in ("cron", "maintain_cron"):
        for cron in ("30 3 * * * 5", "@daily"):
            with pytest.raises(ConfigError) as raised:
                load_settings(write_config(f'[schedule]\n{key} = "{cron}"\n'))
            assert f"[schedule].{key}: must be a cron expression of 5 fields" in str(raised.value), str(raised.value)


def test_a_cron_the_scheduler_would_refuse_or_never_run_is_a_config_problem_for_every_command(write_config):
    # only make serve checked the values: python -m flows.ingest ran with a cron no schedule can keep
    cfg = write_config('[schedule]\ncron = "61 * * * *"\n')
    result = _cli("--config", str(cfg), "--dry-run")
    assert result.returncode == 2 and result.stdout == "", result.stdout[-2000:]
    assert result.stderr.strip().splitlines() == [
        f"error: {cfg}: [schedule].cron: '61 * * * *': the minute 61 is out of range (0-59)"]
    for key in ("cron", "maintain_cron"):
        for cron, problem in (("30 25 * * *", "the hour 25 is out of range (0-23)"),
                              ("0 0 * 0 *", "the month 0 is out of range (1-12)"),
                              ("*/61 * * * *", "the minute step /61 is longer than the field (60)"),
                              ("0 3 LW * *", "is not a cron expression the scheduler takes"),
                              ("H * * * *", "is not a cron expression the scheduler takes"),
                              ("0 0 31 2 *", "never comes due")):
            with pytest.raises(ConfigError) as raised:
                load_settings(write_config(f'[schedule]\n{key} = "{cron}"\n'))
            [line] = raised.value.problems
            assert line.startswith(f"{cfg}: [schedule].{key}: {cron!r}") and problem in line, line
    for cron in ("0 6-22/2 * * mon-fri", "0 3 L * *", "*/30 * * * *", "0 0 * * 7", "15 8 1 jan,jul *"):
        assert load_settings(write_config(f'[schedule]\ncron = "{cron}"\nmaintain_cron = "{cron}"\n')).schedule.cron == cron


def test_a_config_naming_another_catalog_keeps_its_digests_where_warehouse_puts_them(tmp_path):
    """A config that names another catalog and sets no reports_dir writes that catalog's digests where
    --warehouse puts them (make digest --warehouse finds them, and the default warehouse's latest.html stays
    its own); a folder it sets is kept as given."""
    from config.settings import with_overrides

    default = load_settings()
    shipped = (PROJECT_ROOT / "config" / "pipeline.toml").read_text(encoding="utf-8")
    for catalog in ("postgres:dbname=news host=/tmp/pg user=postgres", f"sqlite:{(tmp_path / 'b.sqlite').as_posix()}"):
        config = tmp_path / "pipeline.toml"
        config.write_text(shipped.replace('catalog = "sqlite:warehouse/catalog.sqlite"', f'catalog = "{catalog}"')
                          .replace('data_path = ""', f'data_path = "{(tmp_path / "lake").as_posix()}"'), encoding="utf-8")
        configured = load_settings(config).warehouse
        named = with_overrides(default, warehouse=catalog).warehouse
        assert configured.reports_dir == named.reports_dir != default.warehouse.reports_dir, catalog
    # a folder the config sets is kept as given, the default warehouse's own folder too
    for folder, expected in (((tmp_path / "mine").as_posix(), tmp_path / "mine"),
                             ("warehouse/reports", PROJECT_ROOT / "warehouse" / "reports")):
        config.write_text(config.read_text(encoding="utf-8").replace(
            "[warehouse]\n", f'[warehouse]\nreports_dir = "{folder}"\n', 1), encoding="utf-8")
        assert load_settings(config).warehouse.reports_dir == expected
        config.write_text(config.read_text(encoding="utf-8").replace(f'reports_dir = "{folder}"\n', ""), encoding="utf-8")
    assert default.warehouse.reports_dir == PROJECT_ROOT / "warehouse" / "reports"
