"""Daily summaries per participant and local date D ([D 00:00, D+1 00:00) in the participant's time zone):
- wear_minutes = 1-minute buckets with heart rate (`rollup_1d.minutes`); coverage % of heart_rate, steps and
  active_zone_minutes = their minutes with data / minutes in the local day × 100;
- resting_hr = NightSignal's definition: the mean, over the 1-minute buckets between 00:00 and 06:59 local
  that have heart rate and a stored steps value of 0, of each bucket's mean heart rate (each minute counts once);
- steps and active_zone_minutes = the day's totals;
- sleep = the night ending on D (see `api.sleep`): stage minutes, efficiency, SpO2/HRV/breathing rate;
- last_upload = the latest device upload during the day (uploads = how many).
"""
