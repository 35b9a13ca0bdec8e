package controller

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/agentline/agentline/pkg/router"
	"github.com/agentline/agentline/pkg/runs"
)

// Keys of the `agentline-config` ConfigMap read here (the router's and pkg/runs' keys are read
// by their packages).
const (
	// KeyMaxSlots is the number of dev slots per repository and env pool. Default 4.
	KeyMaxSlots = "max-slots"
	// KeyDashboardURL is the Tekton Dashboard base URL for links (empty: no links).
	KeyDashboardURL = "dashboard-url"
	// KeyKeepRuns is how many finished runs are kept per key and kind. Default 5.
	KeyKeepRuns = "keep-runs"
	// KeyGitHubURL is the REST API base URL (GitHub Enterprise: https://HOST/api/v3/); the
	// router passes it on to the runs.
	KeyGitHubURL = router.KeyGitHubURL
)

// DefaultConfigName is the name of the ConfigMap.
const DefaultConfigName = "agentline-config"

// Config is the whole controller configuration.
type Config struct {
	Router       router.Config
	Runs         runs.Config
	MaxSlots     int
	DashboardURL string
	KeepRuns     int
	GitHubURL    string
}

// DefaultConfig is the configuration of an empty ConfigMap.
func DefaultConfig() Config {
	c, err := ConfigFromMap(nil)
	if err != nil {
		panic(err) // the defaults are constants
	}
	return c
}

// ConfigFromMap reads the ConfigMap data. Errors name the key.
func ConfigFromMap(data map[string]string) (Config, error) {
	var c Config
	var err error
	if c.Router, err = router.ConfigFromMap(data); err != nil {
		return Config{}, err
	}
	if c.Runs, err = runs.ConfigFromMap(data); err != nil {
		return Config{}, err
	}
	if c.MaxSlots, err = positive(data, KeyMaxSlots, 4); err != nil {
		return Config{}, err
	}
	if c.KeepRuns, err = positive(data, KeyKeepRuns, 5); err != nil {
		return Config{}, err
	}
	for key, dst := range map[string]*string{KeyDashboardURL: &c.DashboardURL, KeyGitHubURL: &c.GitHubURL} {
		v := strings.TrimSpace(data[key])
		if v == "" {
			continue
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return Config{}, fmt.Errorf("agentline-config: key %q: %q is not an http(s) URL", key, v)
		}
		*dst = v
	}
	return c, nil
}

func positive(data map[string]string, key string, def int) (int, error) {
	v := strings.TrimSpace(data[key])
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("agentline-config: key %q: %q is not a positive number", key, v)
	}
	return n, nil
}

// Store holds the current Config; a ConfigMap watcher replaces it, readers call Get. An
// invalid ConfigMap leaves the previous configuration in place.
type Store struct {
	mu  sync.RWMutex
	cfg Config
	err error
	gen int
}

// NewStore returns a Store holding DefaultConfig.
func NewStore() *Store { return &Store{cfg: DefaultConfig()} }

// Get returns the current configuration.
func (s *Store) Get() Config {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cfg
}

// Set parses data and, when valid, makes it current. The error (also kept for Err) names the
// offending key.
func (s *Store) Set(data map[string]string) error {
	c, err := ConfigFromMap(data)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
	if err == nil {
		s.cfg = c
		s.gen++
	}
	return err
}

// Err returns the error of the last Set (nil when it was applied).
func (s *Store) Err() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.err
}

// Generation counts applied configurations.
func (s *Store) Generation() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}
