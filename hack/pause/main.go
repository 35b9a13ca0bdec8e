// Command pause is the pod sandbox process of the local stack's node (containerd's
// sandbox_image): it holds the pod's namespaces, reaps orphaned children (it is PID 1 of the pod
// when the PID namespace is shared) and exits on SIGINT or SIGTERM. Built into an image by
// hack/ko.sh images, as nothing can be pulled from outside.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sigs {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var ws syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
