//! Regression tests for issue 9 (http side): each fails on the code before the fix.

#![allow(unused_imports)]

use super::helpers::*;
