"""Datasets: the SignalTrain LA2A index and the embedded virtual levelling amplifier."""

from .signaltrain import MODES, Manifest, PairEntry, build_manifest, parse_name
from .virtual_unit import OpticalLeveler, generate_dataset

__all__ = ["MODES", "Manifest", "OpticalLeveler", "PairEntry", "build_manifest", "generate_dataset", "parse_name"]
