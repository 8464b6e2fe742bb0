"""Fitted model parameters: written by ``python -m bench.fit_calibration --write`` (docs/calibration.md)."""

FITTED_VALUES: dict[str, float] = {
    'patrol_find_rate': 0.17624579144946742,
    'citizen_per_day': 54.62141562585086,
    'department_share': 0.005184869779322447,
    'mobile_jobs_per_day': 57.860291617752296,
    'street_team_median': 0.6851820905143164,
    'satisfied_base': 0.9673159006551518,
}
"""Values of the fitted parameters (``params.FITTED``) that override the defaults."""
