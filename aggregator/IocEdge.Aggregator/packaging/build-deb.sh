#!/usr/bin/env bash
# Builds the iocedge-aggregator package: the same script as the gateway's, for the aggregator only.
#   aggregator/IocEdge.Aggregator/packaging/build-deb.sh [--arch amd64|arm64] [--version V] [-o DIR] [--aggregator-from DIR]
exec "$(cd "$(dirname "$0")" && pwd)/../../../edge/IocEdge.Gateway/packaging/build-deb.sh" --package aggregator "$@"
