module irsteps/tests/node-agent

go 1.19
