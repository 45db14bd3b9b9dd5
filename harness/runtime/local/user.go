package local

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"
)

// account is the user an instance's processes run as (Spec.User).
type account struct {
	uid, gid uint32
	groups   []uint32
}

// lookupAccount resolves Spec.User: a user name ("postgres"), a uid, or uid:gid. It
// refuses what the harness cannot switch to: any other user than its own unless it runs
// as root.
func lookupAccount(spec string) (*account, error) {
	if spec == "" {
		return nil, nil
	}
	name, group, _ := strings.Cut(spec, ":")
	u, err := user.Lookup(name)
	if err != nil {
		if _, numErr := strconv.ParseUint(name, 10, 32); numErr != nil {
			return nil, fmt.Errorf("Spec.User %q: no such user on this machine (%v): give a user name it has, a uid, or uid:gid", spec, err)
		}
		u = &user.User{Uid: name, Gid: name}
		if known, err := user.LookupId(name); err == nil {
			u = known
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	if group != "" {
		g, err := user.LookupGroup(group)
		switch {
		case err == nil:
			gid, _ = strconv.ParseUint(g.Gid, 10, 32)
		default:
			n, numErr := strconv.ParseUint(group, 10, 32)
			if numErr != nil {
				return nil, fmt.Errorf("Spec.User %q: no such group %q on this machine: give a group name it has, or a gid", spec, group)
			}
			gid = n
		}
	}
	if self := os.Getuid(); self != 0 && uint64(self) != uid {
		return nil, fmt.Errorf("Spec.User %q: the harness runs as uid %d and only root can start a process as another user: leave User empty, run the harness as root, or run on docker", spec, self)
	}
	a := &account{uid: uint32(uid), gid: uint32(gid)}
	if ids, err := u.GroupIds(); err == nil && group == "" {
		for _, id := range ids {
			if n, err := strconv.ParseUint(id, 10, 32); err == nil {
				a.groups = append(a.groups, uint32(n))
			}
		}
	}
	return a, nil
}

// credential is what the process is started with; nil runs it as the harness's user.
func (a *account) credential() *syscall.Credential {
	if a == nil {
		return nil
	}
	return &syscall.Credential{Uid: a.uid, Gid: a.gid, Groups: a.groups}
}

// own hands dataDir to the account, so that the instance can write there, and lets it
// through runDir and instDir, the directories above it (traverse only: it lists nothing
// of the run). The program's binary must be reachable by the account too: not under
// root's home, say.
func (a *account) own(runDir, instDir, dataDir string) error {
	if a == nil || (a.uid == uint32(os.Getuid()) && a.gid == uint32(os.Getgid())) {
		return nil
	}
	for _, dir := range []string{runDir, instDir} {
		st, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if err := os.Chmod(dir, st.Mode().Perm()|0o011); err != nil {
			return fmt.Errorf("let uid %d through %s: %w", a.uid, dir, err)
		}
	}
	if err := os.Chown(dataDir, int(a.uid), int(a.gid)); err != nil {
		return fmt.Errorf("hand the data dir %s to uid %d: %w", dataDir, a.uid, err)
	}
	return nil
}
