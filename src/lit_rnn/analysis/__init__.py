"""Analyses over traces and predictions, as plain data (arrays, data frames); they never run models.

``compare`` (test losses, agreement), ``signals`` (per-byte reference signals), ``cells`` (which
cells track them), ``gates`` (gate saturation), ``longrange`` (error overlap, per-byte advantage,
distance to the matching brace, training dynamics).
"""
