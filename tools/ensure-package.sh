#!/usr/bin/env bash
# ensure-package.sh COMMAND DEBIAN_PACKAGE PURPOSE
# Make sure COMMAND exists: as root with apt, install DEBIAN_PACKAGE; otherwise say what to install.
# Never fails: the tests that need the command skip with the reason when it is missing.
command=$1 package=$2 purpose=$3
command -v "$command" > /dev/null && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get > /dev/null; then
  if apt-get install -y -q "$package" > /dev/null 2>&1 ||
     { apt-get update -q > /dev/null 2>&1 && apt-get install -y -q "$package" > /dev/null 2>&1; }; then
    echo "installed $package (apt) for $purpose"
    exit 0
  fi
fi
echo "note: $purpose needs the package '$package' (e.g. sudo apt-get install $package)"
