#!/bin/bash
echo "dist: $(</opt/dist/share/msg.txt)"
