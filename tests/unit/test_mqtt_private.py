"""The one private attribute fusion.mqtt reaches for (aiomqtt's paho client, ``Client._client``):
fail loudly, naming it, when an aiomqtt release moves it, and check the paho API used on it."""

from __future__ import annotations

from importlib.metadata import version

import aiomqtt
import paho.mqtt.client as mqtt
import pytest

from fusion.mqtt import paho_client


def test_aiomqtt_is_the_pinned_release_line() -> None:
    assert version("aiomqtt").startswith("2.5."), f"aiomqtt {version('aiomqtt')}: fusion.mqtt.paho_client is written for 2.5.x"


async def test_aiomqtt_still_keeps_its_paho_client_at_the_private_attribute() -> None:
    client = aiomqtt.Client("127.0.0.1", 1)  # not connected: construction only (it needs a running loop)
    paho = paho_client(client)
    assert isinstance(paho, mqtt.Client)
    # what fusion.mqtt uses on it is paho's public API
    assert not paho.want_write()  # nothing queued yet
    assert callable(paho.publish) and callable(mqtt.MQTTMessageInfo.is_published)
    paho.on_message = lambda *_: None  # the read path's handler replaces aiomqtt's queueing one


def test_a_client_without_it_is_refused_with_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match=r"Client\._client"):
        paho_client(object())  # type: ignore[arg-type]
