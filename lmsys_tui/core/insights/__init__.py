"""Tools that turn clusters into findings: lift, diff, map, report."""
