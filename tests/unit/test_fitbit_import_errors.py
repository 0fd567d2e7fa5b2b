"""Malformed input: every problem is one ImportFileError naming file, JSON path and reason, and no batches."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from producers.fitbit import FitbitImportError, ImportArgumentError, ImportFileError, import_files

DATA = Path(__file__).resolve().parent.parent / "data" / "fitbit"
WEB_API = DATA / "web_api"
WEARIPEDIA = DATA / "wearipedia"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def failure(*paths: Path) -> ImportFileError:
    with pytest.raises(ImportFileError) as caught:
        import_files(paths, participant_id="p-001", device_id="charge6-a")
    return caught.value


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_wrong_type_deep_inside_a_wearipedia_file(tmp_path: Path) -> None:
    document = load(WEARIPEDIA / "hr.json")
    document[2]["heart_rate_day"][0]["activities-heart-intraday"]["dataset"][17]["value"] = "abc"
    path = write(tmp_path / "hr.json", document)

    error = failure(path)

    json_path = '$[2]["heart_rate_day"][0]["activities-heart-intraday"]["dataset"][17]["value"]'
    assert (error.path, error.json_path, error.reason) == (str(path), json_path, 'expected a number, got "abc"')
    assert str(error) == f'{path}: {json_path}: expected a number, got "abc"'


def test_wrong_type_in_a_web_api_response(tmp_path: Path) -> None:
    document = load(WEB_API / "hrv_intraday.json")
    document["hrv"][0]["minutes"][3]["value"]["coverage"] = None

    error = failure(write(tmp_path / "hrv.json", document))

    assert error.json_path == '$["hrv"][0]["minutes"][3]["value"]["coverage"]'
    assert error.reason == "expected a number, got null"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t", "empty file"),
        (b'{"activities-heart": [', "invalid JSON: the file ends in the middle of a value"),
        (b'{"sleep": []}\n{"sleep": tru}', "invalid JSON: trailing characters (near line 2, column 2)"),
        (b'[\n {"br": [}\n]', "invalid JSON: invalid character (near line 2, column 10)"),
        (b"42", "expected an object or an array, got 42"),
        (b"[]", "no response to import: the array is empty or holds only empty objects"),
        (b"[{}, {}]", "no response to import: the array is empty or holds only empty objects"),
    ],
)
def test_unusable_documents_fail_at_the_root(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(content)

    error = failure(path)

    assert (error.json_path, error.reason) == ("$", reason)


def test_unknown_shape_names_its_keys(tmp_path: Path) -> None:
    error = failure(write(tmp_path / "x.json", [{"br": []}, {"foo": 1, "bar": 2}]))

    assert error.json_path == "$[1]"
    assert error.reason.startswith('unknown response shape (keys: "bar", "foo"); expected one of the keys')


def test_element_that_is_not_an_object(tmp_path: Path) -> None:
    error = failure(write(tmp_path / "x.json", [{"br": []}, 3]))

    assert (error.json_path, error.reason) == ("$[1]", "expected an object, got 3")


@pytest.mark.parametrize(
    ("document", "json_path", "reason_start"),
    [
        (
            [{"activities-active-zone-minutes": [{"dateTime": "2024-01-01", "value": {"activeZoneMinutes": 30}}]}],
            "$[0]",
            "a daily active-zone-minutes summary",
        ),
        ({"activities-active-zone-minutes": []}, "$", "a daily active-zone-minutes summary"),
        ({"errors": [{"errorType": "expired_token", "message": "Access token expired"}], "success": False}, "$", ""),
    ],
)
def test_recognised_but_without_a_home_is_skipped_with_a_warning(
    tmp_path: Path, document: Any, json_path: str, reason_start: str
) -> None:
    path = write(tmp_path / "x.json", document)
    result = import_files([path, WEARIPEDIA / "spo2.json"], participant_id="p-001", device_id="charge6-a")

    (skipped,) = result.skipped
    assert (skipped.path, skipped.json_path) == (str(path), json_path)
    assert skipped.reason.startswith(reason_start)
    assert "not importable" in skipped.reason or "Access token expired" in skipped.reason
    assert str(path) in str(skipped)
    assert result.readings["spo2"] > 0  # the rest still imports


def test_wearipedia_activity_export_becomes_device_reported_daily_steps() -> None:
    result = import_files([WEARIPEDIA / "activity.json", WEARIPEDIA / "hr.json"], "p-001", "charge6-a")

    assert result.skipped == ()
    expected = [(e["dateTime"], float(e["value"])) for e in load(WEARIPEDIA / "activity.json")]
    steps = result.device_daily[str(WEARIPEDIA / "activity.json")]
    assert [(v.date.isoformat(), v.value) for v in steps if v.field == "steps"] == expected
    resting = [v for v in result.device_daily[str(WEARIPEDIA / "hr.json")] if v.field == "resting_heart_rate"]
    assert [v.value for v in resting] == [
        d["heart_rate_day"][0]["activities-heart"][0]["value"]["restingHeartRate"] for d in load(WEARIPEDIA / "hr.json")
    ]
    assert "steps" not in result.readings  # a daily total is never turned into readings


def test_web_api_daily_summaries_become_device_reported_values(tmp_path: Path) -> None:
    files = [
        write(tmp_path / "steps.json", {"activities-steps": [{"dateTime": "2024-01-01", "value": "3450"}]}),
        write(
            tmp_path / "rhr.json", {"activities-heart": [{"dateTime": "2024-01-01", "value": {"restingHeartRate": 61}}]}
        ),
        write(tmp_path / "spo2.json", [{"dateTime": "2024-01-01", "value": {"avg": 95.7, "min": 93.2, "max": 98.1}}]),
        write(
            tmp_path / "hrv.json",
            {"hrv": [{"dateTime": "2024-01-01", "value": {"dailyRmssd": 34.512, "deepRmssd": 30.9}}]},
        ),
        write(tmp_path / "br.json", {"br": [{"dateTime": "2024-01-01", "value": {"breathingRate": 15.2}}]}),
    ]
    result = import_files(files, "p-001", "charge6-a")

    got = {(v.field, v.value) for values in result.device_daily.values() for v in values}
    assert got == {
        ("steps", 3450.0),
        ("resting_heart_rate", 61.0),
        ("spo2_avg", 95.7),
        ("spo2_min", 93.2),
        ("spo2_max", 98.1),
        ("hrv_daily_rmssd", 34.512),
        ("hrv_deep_rmssd", 30.9),
        ("breathing_rate_full", 15.2),
    }
    assert {m for m, n in result.readings.items() if n} == {
        "breathing_rate"
    }  # the night's full breathing rate is also a reading


def test_a_daily_step_total_that_is_not_a_number_fails_with_its_path(tmp_path: Path) -> None:
    error = failure(write(tmp_path / "x.json", {"activities-steps": [{"dateTime": "2024-01-01", "value": "many"}]}))

    assert (error.json_path, error.reason) == ('$["activities-steps"][0]["value"]', 'expected a number, got "many"')


def test_a_folder_imports_every_json_file_in_it() -> None:
    sync = 1_704_844_800_000  # one sync time for both: by default each import is stamped with its own time
    folder = import_files([WEARIPEDIA], participant_id="p-001", device_id="charge6-a", sync_time=sync)
    one_by_one = import_files(
        sorted(WEARIPEDIA.glob("*.json")), participant_id="p-001", device_id="charge6-a", sync_time=sync
    )

    assert folder.batches == one_by_one.batches
    assert len(folder.files) == 7
    assert folder.skipped == ()


def test_a_malformed_file_in_a_folder_still_fails_the_whole_import(tmp_path: Path) -> None:
    write(tmp_path / "a.json", load(WEARIPEDIA / "spo2.json"))
    write(tmp_path / "b.json", [{"br": [{"dateTime": "2024-01-01", "value": {"fullSleepSummary": "x"}}]}])

    error = failure(tmp_path)

    assert error.path == str(tmp_path / "b.json")


def test_an_empty_folder_is_an_argument_error(tmp_path: Path) -> None:
    with pytest.raises(ImportArgumentError, match=r"no \.json file"):
        import_files([tmp_path], participant_id="p-001", device_id="charge6-a")


def test_mixed_data_types_in_one_array(tmp_path: Path) -> None:
    spo2 = load(WEARIPEDIA / "spo2.json")
    br = load(WEARIPEDIA / "br.json")

    error = failure(write(tmp_path / "x.json", [spo2[0], br[0]]))

    assert (error.json_path, error.reason) == ("$[1]", "a breathing_rate response, but $[0] is spo2")


@pytest.mark.parametrize(
    ("mutate", "json_path", "reason"),
    [
        (
            lambda d: d["activities-heart-intraday"]["dataset"][5].update(time="25:00:00"),
            '$["activities-heart-intraday"]["dataset"][5]["time"]',
            'expected a time of day (HH:MM:SS), got "25:00:00"',
        ),
        (
            lambda d: d["activities-heart"][0].update(dateTime="today"),
            '$["activities-heart"][0]["dateTime"]',
            'expected a date (YYYY-MM-DD), got "today"',
        ),
        (
            lambda d: d["activities-heart-intraday"]["dataset"][0].pop("value"),
            '$["activities-heart-intraday"]["dataset"][0]',
            'missing required field "value"',
        ),
        (
            lambda d: d["activities-heart-intraday"].update(dataset={"time": "00:00:00"}),
            '$["activities-heart-intraday"]["dataset"]',
            'expected an array, got {"time":"00:00:00"}',
        ),
        (
            lambda d: d["activities-heart"].clear(),
            '$["activities-heart"]',
            "empty summary list: the intraday dataset has no date",
        ),
    ],
)
def test_bad_heart_rate_fields(tmp_path: Path, mutate: Any, json_path: str, reason: str) -> None:
    document = copy.deepcopy(load(WEB_API / "heart_rate_intraday.json"))
    mutate(document)

    error = failure(write(tmp_path / "hr.json", document))

    assert (error.json_path, error.reason) == (json_path, reason)


def test_bad_times_in_other_shapes(tmp_path: Path) -> None:
    azm = load(WEB_API / "azm_intraday.json")
    azm["activities-active-zone-minutes-intraday"][0]["minutes"][9]["minute"] = "noon"
    spo2 = load(WEB_API / "spo2_intraday.json")
    spo2["minutes"][2]["minute"] = "2024-06-15T01:00:00Z"

    azm_error = failure(write(tmp_path / "azm.json", azm))
    spo2_error = failure(write(tmp_path / "spo2.json", spo2))

    assert azm_error.json_path == '$["activities-active-zone-minutes-intraday"][0]["minutes"][9]["minute"]'
    assert azm_error.reason.endswith('got "noon"')
    assert spo2_error.json_path == '$["minutes"][2]["minute"]'
    assert (
        spo2_error.reason
        == 'expected a local date-time (YYYY-MM-DDTHH:MM:SS) with no timezone component, got "2024-06-15T01:00:00Z"'
    )


@pytest.mark.parametrize(
    ("mutate", "json_path", "reason"),
    [
        (
            lambda d: d["sleep"][0]["levels"]["shortData"][1].update(level="dozing"),
            '$["sleep"][0]["levels"]["shortData"][1]["level"]',
            'unknown value "dozing"',
        ),
        (
            lambda d: d["sleep"][1]["levels"]["data"][2].update(seconds=-30),
            '$["sleep"][1]["levels"]["data"][2]["seconds"]',
            "expected an integer >= 0, got -30",
        ),
        (
            lambda d: d["sleep"][0]["levels"]["data"][0].update(seconds=30.5),
            '$["sleep"][0]["levels"]["data"][0]["seconds"]',
            "expected an integer, got 30.5",
        ),
        (lambda d: d["sleep"][1].pop("levels"), '$["sleep"][1]', 'missing required field "levels"'),
        (
            lambda d: d["sleep"][0]["levels"]["data"][-1].update(seconds=30 * 86_400),
            '$["sleep"][0]["levels"]["data"]',
            "the segments span 87051 epochs, more than 7 days",
        ),
    ],
)
def test_bad_sleep_logs(tmp_path: Path, mutate: Any, json_path: str, reason: str) -> None:
    document = load(WEB_API / "sleep_v1.2.json")
    mutate(document)

    error = failure(write(tmp_path / "sleep.json", document))

    assert (error.json_path, error.reason) == (json_path, reason)


def test_breathing_rate_without_any_rate(tmp_path: Path) -> None:
    error = failure(write(tmp_path / "br.json", {"br": [{"value": {}, "dateTime": "2024-01-01"}]}))

    assert error.json_path == '$["br"][0]["value"]'
    assert error.reason.startswith("no breathing rate")


def test_one_bad_file_fails_the_whole_import(tmp_path: Path) -> None:
    bad = tmp_path / "broken.json"
    bad.write_text('{"sleep": [')
    good = [WEB_API / "heart_rate_intraday.json", WEARIPEDIA / "sleep.json"]

    for paths in ([*good, bad], [bad, *good], [good[0], bad, good[1]]):
        assert failure(*paths).path == str(bad)


def test_missing_file(tmp_path: Path) -> None:
    error = failure(tmp_path / "nope.json")

    assert (error.json_path, error.reason) == ("$", "cannot read the file: No such file or directory")


@pytest.mark.parametrize(
    ("participant_id", "device_id", "timezone"),
    [("p-001", "d", "Mars/Olympus_Mons"), ("", "d", "UTC"), ("p-001", "", "UTC"), ("p", "d", "../etc/passwd")],
)
def test_bad_arguments(participant_id: str, device_id: str, timezone: str) -> None:
    with pytest.raises(ImportArgumentError):
        import_files([WEB_API / "steps_intraday.json"], participant_id, device_id, timezone=timezone)


def test_all_importer_errors_share_one_base() -> None:
    assert issubclass(ImportFileError, FitbitImportError)
    assert issubclass(ImportArgumentError, FitbitImportError)
