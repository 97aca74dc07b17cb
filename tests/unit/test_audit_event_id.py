"""Audit event ids are RFC 4122 version-5 UUIDs of the event type and message id, as ``uuid.uuid5`` makes them."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.audit import _NAMESPACE, event_id


@settings(max_examples=200, deadline=None)
@given(event_type=st.text(max_size=30), message_id=st.text(max_size=130))
def test_event_id_is_uuid5_of_type_and_message_id(event_type, message_id):
    made = event_id(event_type, message_id)
    assert made == str(uuid.uuid5(_NAMESPACE, f"{event_type}:{message_id}"))
    assert uuid.UUID(made).version == 5
