//! Regression tests for issue 9 (access side): each fails on the code before the fix.

#![allow(unused_imports)]

use super::helpers::*;
