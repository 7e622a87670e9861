package testtarget

import "time"

func timeAfter() <-chan time.Time { return time.After(5 * time.Second) }
