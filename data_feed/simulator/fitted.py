"""Fitted model parameters: written by ``python -m bench.fit_calibration --write`` (docs/calibration.md)."""

FITTED_VALUES: dict[str, float] = {
    'patrol_find_rate': 0.17617116225797216,
    'citizen_per_day': 54.65828459785523,
    'department_share': 0.004681643925317522,
    'mobile_jobs_per_day': 57.8775722949375,
    'street_team_median': 0.6040247297643999,
    'satisfied_base': 0.9602025690451084,
}
"""Values of the fitted parameters (``params.FITTED``) that override the defaults."""
