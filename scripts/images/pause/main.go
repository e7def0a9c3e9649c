// The pod sandbox's process (containerd's sandbox_image): holds the pod's namespaces and waits
// for its end. A static binary, so the image is FROM scratch (no registry here).
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	<-stop
}
