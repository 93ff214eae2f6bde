"""Figures (plotly), text heatmaps (HTML) and explorers (ipywidgets) over the analyses' plain data."""
