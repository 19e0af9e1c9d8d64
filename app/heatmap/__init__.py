"""The heat map of a process diagram: how many instances stand at each activity now and how long
people's tasks took (median, 90th percentile) over a period. See app.heatmap.report."""

from app.heatmap.report import HeatMap, Place, Step, UnknownProcess, heat_map, versions_of

__all__ = ["HeatMap", "Place", "Step", "UnknownProcess", "heat_map", "versions_of"]
