#!/bin/sh
# Runs as the image's user: prints how the tar's entries look inside the
# container, then the data only that user may read.
set -e
stat -c '%A %u:%g %n' /opt/tools/bin/report.sh /opt/tools/share /opt/tools/share/motd.txt
echo "tools: $(cat /opt/tools/share/motd.txt) (as uid $(id -u))"
