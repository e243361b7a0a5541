#!/bin/sh
# A model for the Logs page test: prints coloured lines (ANSI SGR codes, as
# llama-server does), a line in the format modelswap writes where a log
# reader lost data, then runs the command it was given (a demo upstream).
printf '\033[31mERROR red text\033[0m then \033[1;32mbold green\033[0m then \033[38;5;208morange\033[0m\n' >&2
printf '%s\n' '--- 4096 bytes dropped ---' >&2
exec "$@"
