"""Fitted model parameters: written by ``python -m bench.fit_calibration --write`` (docs/calibration.md)."""

FITTED_VALUES: dict[str, float] = {
    'patrol_find_rate': 0.17624571438388473,
    'citizen_per_day': 54.61061709300104,
    'department_share': 0.004487831468976059,
    'mobile_jobs_per_day': 57.93989612344477,
    'street_team_median': 0.6035890924606052,
    'satisfied_base': 0.9597099862930273,
}
"""Values of the fitted parameters (``params.FITTED``) that override the defaults."""
