package testenv_test

import (
	"fmt"

	"github.com/seed8104ecd5/gizmo/internal/testenv"
)

// Tests call testenv.Addr(t, "consul"); the variable it reads is named by Var.
func ExampleVar() {
	fmt.Println(testenv.Var("consul"))
	// Output: GIZMO_TEST_CONSUL_ADDR
}
