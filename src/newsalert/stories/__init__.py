"""The stories package (being split; see the next commit)."""

from newsalert.stories.desk import *  # noqa: F403
