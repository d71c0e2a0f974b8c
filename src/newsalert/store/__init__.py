"""The store package (being split; see the next commit)."""

from newsalert.store.deliverystore import *  # noqa: F403
from newsalert.store.deliverystore import (  # noqa: F401
    _add_column_ddl,
    _chunks,
    _delivery,
    _feed_state,
    _lost_create_race,
    _stored_item,
)
