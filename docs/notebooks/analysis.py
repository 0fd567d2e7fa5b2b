# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     name: python3
#     display_name: Python 3
# ---

# %% [markdown]
# # A wearstream study in pandas
#
# Connect to the API with a key, look at the cohort's adherence, one participant's week (daily summaries,
# sleep, gaps, hourly heart rate), the cohort's heart rate by hour of the day, then export a dataset and
# read it back. Run it against the demo stack (`make demo` prints the URL and a key):
#
#     WEARSTREAM_CLIENT_URL=http://127.0.0.1:8000 WEARSTREAM_CLIENT_KEY=wsk_… python docs/notebooks/analysis.py
#
# or open it in Jupyter as a notebook (`jupytext --to ipynb docs/notebooks/analysis.py`). The tests run it
# against a real API, so it stays true to the client.

# %%
import datetime as dt
import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.dataset as ds

from wearstream.client import Client
from wearstream.client.export import ExportSpec, run_export

client = Client(os.environ.get("WEARSTREAM_CLIENT_URL", "http://127.0.0.1:8000"), os.environ["WEARSTREAM_CLIENT_KEY"])
pd.set_option("display.width", 160)

# %% [markdown]
# ## The cohort
# One row per participant: enrolment, zone, last upload, wear over the last 7 days, open gaps, flags.

# %%
cohort = client.participants()
with_data = cohort[cohort["last_upload"].notna()]
print(f"{len(cohort)} participants, {len(with_data)} with data")
print(with_data[["participant_id", "timezone", "last_upload", "wear_pct_7d", "open_gaps", "flags"]].head(10))

# %% [markdown]
# ## Adherence over the stored days
# The window is the first participant's stored local days (from its daily heart-rate rollups).

# %%
participant = str(with_data["participant_id"].iloc[0])
days = client.series(participant, "heart_rate", resolution="1d")
start = days["local_time"].min().date()
end = days["local_time"].max().date() + dt.timedelta(days=1)
adherence = client.adherence(start, end)
print(f"{start} … {end} (exclusive)")
print(adherence[["participant_id", "wear_pct", "nights_with_sleep", "hours_since_last_upload", "flags"]].head(10))
print("wear % across the cohort:", adherence["wear_pct"].describe().round(1).to_dict())

# %% [markdown]
# ## One participant's days: summaries, sleep, gaps, hourly heart rate

# %%
daily = client.daily(participant, start, end)
sleep = client.sleep(participant, start, end)
gaps = client.gaps(participant, start, end)
hourly = client.series(participant, "heart_rate", start, end, resolution="1h")
print(daily[["date", "wear_pct", "resting_hr", "steps", "sleep_minutes_asleep", "uploads"]])
print(sleep[["date", "has_sleep", "minutes_asleep", "efficiency_pct", "onset", "offset"]])
print(gaps[["kind", "local_start", "local_end", "duration_s"]])
print(hourly.set_index("local_time")[["count", "min", "mean", "max"]].head(24))

# %% [markdown]
# ## The cohort's heart rate by local hour of the day
# Hourly rollups of up to 20 participants; `local_time` is each participant's wall clock.

# %%
ids = list(with_data["participant_id"].head(20))
cohort_hr = client.series(ids, "heart_rate", start, end, resolution="1h")
by_hour = cohort_hr.groupby(cohort_hr["local_time"].dt.hour)["mean"].describe()[["count", "25%", "50%", "75%"]]
print(by_hour.round(1))

# %% [markdown]
# ## Export a dataset and read it back
# One-minute rollups of three participants, Hive-partitioned Parquet; the per-minute step totals add up to
# each day's steps in the daily summaries.

# %%
out = Path(os.environ.get("WEARSTREAM_NOTEBOOK_OUT") or tempfile.mkdtemp(prefix="wearstream-export-"))
chosen = tuple(ids[:3])
spec = ExportSpec(participants=chosen, metrics=("heart_rate", "steps"), start=str(start), end=str(end), resolution="1m")
result = run_export(client, out, spec, fresh=True)
print(f"exported {result.readings:,} rows to {out}; tables {result.tables}")

dataset = ds.dataset(out / "series", format="parquet", partitioning="hive")
steps = dataset.to_table(filter=pc.field("metric") == "steps").to_pandas()
per_day = steps.groupby(["participant", steps["local_time"].dt.date])["sum"].sum()
exported_daily = pd.read_parquet(out / "daily.parquet")
for row in exported_daily.itertuples():
    minutes_total = per_day.get((row.participant_id, row.date.date()), 0)
    assert row.steps is None or pd.isna(row.steps) or minutes_total == row.steps, (row.participant_id, row.date)
print(per_day.unstack(0))
print("the exported minutes add up to the daily step totals")

# %%
client.close()
