#!/usr/bin/env bash
# Workspace status of the compat2 e2e workspace: STABLE_SOURCE_DATE_EPOCH
# from $SOURCE_DATE_EPOCH (0 when unset) and STABLE_GIT_COMMIT, the commit
# of the clone, which {STABLE_GIT_COMMIT} in labels and env expands to.
echo "STABLE_SOURCE_DATE_EPOCH ${SOURCE_DATE_EPOCH:-0}"
echo "STABLE_GIT_COMMIT $(git rev-parse HEAD 2>/dev/null || echo unknown)"
