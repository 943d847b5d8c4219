# gizmo's everyday commands. `make test` is the full run CI does.
.PHONY: test test-short run bench lint testenv-start testenv-stop proto

# The whole test suite against real servers: vet, staticcheck, go test -race.
test:
	scripts/test

# Unit tests only: no servers (integration tests skip unless CI=true, and a
# summary at the end lists what skipped and why).
test-short:
	scripts/test-short

# The flagship example on its embedded in-memory broker.
run:
	go run ./examples/quickstart

bench:
	go test -run '^$$' -bench . -benchmem ./...

lint:
	go vet ./...
	go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

testenv-start:
	scripts/testenv start

testenv-stop:
	scripts/testenv stop

proto:
	scripts/gen-proto.sh
