# The two commands of the README: `make run` and `make test`.
# Everything else here is what they are made of.

CARGO ?= cargo
ARGS ?=

.PHONY: run test web check

## Run the service with the web client at http://127.0.0.1:8080 (builds what is stale).
run: web
	$(CARGO) run --release -p natter -- serve $(ARGS)

## Run every test: formatting, lints, Rust tests, web unit and browser tests.
test:
	scripts/test.sh

## Build the web client into web/dist when its sources changed.
web:
	scripts/build-web.sh

## Fast feedback while editing Rust.
check:
	$(CARGO) clippy --workspace --all-targets -- -D warnings
