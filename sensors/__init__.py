"""Sensor message codecs and measurement models, shared by the simulator and the fusion service."""
