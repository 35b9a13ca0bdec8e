package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// removePodSandboxes stops and removes every pod sandbox of the node's containerd through the CRI
// (as `crictl rmp -af`), so that the shims, the CNI attachments and the mounts of the pods go
// before containerd stops. It returns how many it removed; no containerd is not an error.
func (c Config) removePodSandboxes() (int, error) {
	if _, ok := c.runningPID("containerd"); !ok {
		return 0, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := grpc.NewClient("unix://"+c.ContainerdSocket(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return 0, fmt.Errorf("containerd CRI: %w", err)
	}
	defer conn.Close()
	rt := runtimeapi.NewRuntimeServiceClient(conn)
	list, err := rt.ListPodSandbox(ctx, &runtimeapi.ListPodSandboxRequest{})
	if err != nil {
		return 0, fmt.Errorf("containerd CRI: listing pod sandboxes: %w", err)
	}
	var errs []error
	for _, p := range list.Items {
		if _, err := rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("stopping pod sandbox %s (%s/%s): %w", p.Id[:12], p.Metadata.GetNamespace(), p.Metadata.GetName(), err))
			continue
		}
		if _, err := rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: p.Id}); err != nil {
			errs = append(errs, fmt.Errorf("removing pod sandbox %s (%s/%s): %w", p.Id[:12], p.Metadata.GetNamespace(), p.Metadata.GetName(), err))
		}
	}
	return len(list.Items) - len(errs), errors.Join(errs...)
}

// nodeHostPaths are what the kubelet, containerd and the CNI plugins leave at fixed host paths.
var nodeHostPaths = []string{"/var/lib/kubelet/device-plugins", "/var/lib/cni/results", "/run/containerd/s", "/run/containerd/fifo"}

// cleanNodeHost undoes what the node leaves behind once containerd and the kubelet have stopped:
// mounts under the state folder (the kubelet bind-mounts its root dir onto itself; pod volumes,
// sandbox network namespaces), kube-proxy's iptables rules, the CNI bridge, the kubepods
// cgroups, and the fixed host paths above. Running it twice is harmless.
func (c Config) cleanNodeHost() error {
	var errs []error
	if err := unmountUnder(c.nodePath()); err != nil {
		errs = append(errs, err)
	}
	if kp := c.bin("kube-proxy"); fileExists(kp) && fileExists(c.nodePath("kube-proxy.yaml")) {
		// kube-proxy's own cleanup removes its KUBE-* chains and rules.
		if out, err := exec.Command(kp, "--cleanup", "--config="+c.nodePath("kube-proxy.yaml")).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("kube-proxy --cleanup: %w: %s", err, lastLines(string(out), 5)))
		}
	}
	if err := deleteLink(cniBridge); err != nil {
		errs = append(errs, err)
	}
	if err := removeCgroups("kubepods"); err != nil {
		errs = append(errs, err)
	}
	for _, p := range nodeHostPaths {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	// Pod logs, kubelet and sandbox state go with the pods; the image store and the containerd
	// metadata stay so that a restart does not pull again.
	for _, p := range []string{c.nodePath("kubelet"), c.nodePath("pod-logs"), c.nodePath("containerd", "state"), c.nodePath("cni", "ipam")} {
		if err := os.RemoveAll(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// unmountUnder lazily unmounts every mount point at or below dir, deepest first.
func unmountUnder(dir string) error {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return err
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescapeMount(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, p := range points {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(v)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// deleteLink removes a network interface if it exists (the CNI bridge outlives its pods).
func deleteLink(name string) error {
	if _, err := os.Stat(filepath.Join("/sys/class/net", name)); err != nil {
		return nil
	}
	if out, err := exec.Command("ip", "link", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("ip link delete %s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// removeCgroups removes the named cgroup tree (depth first; only empty cgroups can go) from
// every cgroup v1 hierarchy and the unified one.
func removeCgroups(name string) error {
	roots, _ := filepath.Glob("/sys/fs/cgroup/*/" + name)
	if fileExists("/sys/fs/cgroup/" + name) {
		roots = append(roots, "/sys/fs/cgroup/"+name)
	}
	var errs []error
	for _, root := range roots {
		var dirs []string
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := unix.Rmdir(dirs[i]); err != nil && !errors.Is(err, unix.ENOENT) {
				errs = append(errs, fmt.Errorf("removing cgroup %s: %w", dirs[i], err))
			}
		}
	}
	return errors.Join(errs...)
}
