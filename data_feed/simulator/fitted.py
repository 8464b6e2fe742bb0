"""Fitted model parameters: written by ``python -m bench.fit_calibration --write`` (docs/calibration.md)."""

FITTED_VALUES: dict[str, float] = {
    'patrol_find_rate': 0.1720469018941209,
    'citizen_per_day': 54.71866700416605,
    'department_share': 0.004911780732877043,
    'mobile_jobs_per_day': 57.93548387096774,
    'street_team_median': 0.6816822334204866,
    'satisfied_base': 0.9668782579593242,
}
"""Values of the fitted parameters (``params.FITTED``) that override the defaults."""
