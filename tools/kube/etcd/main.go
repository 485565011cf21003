// Command etcd is etcd's own server main, built here because etcd's server module carries replace
// directives that `go install` refuses; as a dependency of this module they do not apply.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
