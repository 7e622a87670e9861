package testtarget

import "time"

// timeAfter bounds the waits for a target (its ready line after exec, its
// exit before it is killed). It only fires when something hangs, so it is
// generous: a 2-core machine under load, with the tests at nice 19 beside
// busy processes, can starve a target for seconds.
func timeAfter() <-chan time.Time { return time.After(60 * time.Second) }
