# make test: everything CI checks. Tools Go does not fetch itself are installed
# by the scripts in .ci/ when missing.
GO ?= go
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 3s

.PHONY: test fmt vet cross staticcheck unit fuzz bench container-test cluster-test

test: fmt vet cross staticcheck unit fuzz

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

# The platforms tickerd builds for besides linux: platform code sits behind
# build tags with a fallback, and the tests' helpers too.
cross:
	GOOS=windows $(GO) vet ./...
	GOOS=darwin $(GO) vet ./...

staticcheck:
	$(GO) run $(STATICCHECK) ./...

unit:
	bash .ci/deps
	$(GO) test -race -count=1 ./...

fuzz:
	FUZZTIME=$(FUZZTIME) bash .ci/fuzz

container-test:
	GO=$(GO) bash .ci/container-test

cluster-test:
	GO=$(GO) bash .ci/cluster-test

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
