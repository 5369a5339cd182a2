package harness

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"
)

// Domain is the parent of every test host name (auth.example.test,
// rp1.example.test, …). RFC 6761 reserves .test, so no real name is ever
// shadowed; every name under it is mapped to loopback, keeping the port.
const Domain = "example.test"

// Host is the host:port under Domain for a service listening on addr
// (127.0.0.1:PORT): name "auth" gives "auth.example.test:PORT".
func Host(name, addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		panic(fmt.Sprintf("harness: listen address %q: %v", addr, err))
	}
	return net.JoinHostPort(name+"."+Domain, port)
}

// mapHost turns host:port under Domain into 127.0.0.1:port and leaves any
// other address alone.
func mapHost(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err == nil && (host == Domain || strings.HasSuffix(host, "."+Domain)) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}

// dialMapped dials addr with test host names mapped to loopback.
func dialMapped(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, network, mapHost(addr))
}

// HTTPClient is a client for the test hosts: it trusts only the CA, maps
// the names under Domain to loopback, keeps cookies when jar is true, and
// never follows redirects on its own (tests look at each hop).
func HTTPClient(ca *CA, jar bool) *http.Client {
	c := &http.Client{
		Transport: &http.Transport{
			DialContext:         dialMapped,
			TLSClientConfig:     &tls.Config{RootCAs: ca.Pool, MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout: 10 * time.Second,
			ForceAttemptHTTP2:   true,
		},
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	if jar {
		c.Jar, _ = cookiejar.New(nil)
	}
	return c
}

// FreePort returns a loopback address with a port that was free a moment
// ago, for processes that must know their own URL before they listen
// (`waxseal serve --issuer`, oauth2-proxy's redirect URL). Another process
// could take it in between; on this machine's ephemeral range that is rare
// enough, and the start then fails loudly.
func FreePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// ConnectProxy is an HTTP CONNECT proxy on loopback that maps the test host
// names to loopback. Processes that resolve names themselves (oauth2-proxy)
// reach the test hosts through it via HTTPS_PROXY, unmodified and without
// privileges, as they would reach a provider through an egress proxy.
type ConnectProxy struct {
	URL string // http://127.0.0.1:PORT
	ln  net.Listener
	wg  sync.WaitGroup

	mu    sync.Mutex
	conns map[net.Conn]struct{} // guarded by mu: open client connections
}

// StartConnectProxy starts a proxy that lives until the test ends. It
// tunnels only to names under Domain: anything else is refused, so a
// process under test cannot reach beyond the machine through it.
func StartConnectProxy(t testing.TB) *ConnectProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &ConnectProxy{URL: "http://" + ln.Addr().String(), ln: ln, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns[c] = struct{}{}
			p.mu.Unlock()
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.tunnel(c)
				p.mu.Lock()
				delete(p.conns, c)
				p.mu.Unlock()
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

func (p *ConnectProxy) tunnel(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	target := mapHost(req.Host)
	if req.Method != http.MethodConnect || target == req.Host {
		io.WriteString(c, "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
		return
	}
	up, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		io.WriteString(c, "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
		return
	}
	defer up.Close()
	if _, err := io.WriteString(c, "HTTP/1.1 200 Connection Established\r\n\r\n"); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(up, br) // br holds whatever the client sent after CONNECT
		done <- struct{}{}
	}()
	go func() {
		io.Copy(c, up)
		done <- struct{}{}
	}()
	<-done // HTTP clients never half-close: one side done ends the tunnel
	c.Close()
	up.Close()
	<-done
}
