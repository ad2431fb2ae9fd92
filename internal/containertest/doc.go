// Package containertest holds the checks that .ci/container-test runs
// against a tickerd started from the container image. Its tests are built
// only with the build tag "container" and need a running instance:
//
//	go test -tags container ./internal/containertest -run Container -args -url http://127.0.0.1:8080
package containertest
