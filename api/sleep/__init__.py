"""Sleep per night. The night of date D (the sleep date, the local date the night ends on) is the window
[D−1 12:00, D 12:00) in the participant's time zone; everything below is read from the rollups in it:
- stage minutes = 30 s epochs per stage / 2; time in bed = all epochs / 2;
- efficiency = (light + deep + rem epochs) / all epochs × 100;
- onset = the first epoch's start, offset = the last epoch's end (start + 30 s);
- spo2 = mean (and minimum) of the night's SpO2 readings; hrv_rmssd = mean of its 5-minute RMSSD values;
- breathing_rate = the device's full-night value (the reading whose stage column is −1).
"""
