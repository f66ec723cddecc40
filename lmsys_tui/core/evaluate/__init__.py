"""Measuring insight quality: labelled-data figures, stability and title judging."""
