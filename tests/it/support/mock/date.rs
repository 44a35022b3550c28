//! The mock's `Date` header, optionally off by a set number of seconds, so
//! a test can show `codex-pool doctor` a machine whose clock is skewed
//! against upstream's (`Mock::skew_date`, `mock_upstream --date-skew`).
//! Unset, hyper's own `Date` (the true time) is left alone.

use hyper::Response;

use super::{Body, Mock, State};

impl Mock {
    /// Every answer's `Date` is `secs` off the true time (ahead when positive).
    pub fn skew_date(&self, secs: i64) {
        self.state.lock().expect("mock state").date_skew = Some(secs);
    }
}

/// Sets `resp`'s `Date` when a skew is asked for.
pub(super) fn stamp(st: &std::sync::Mutex<State>, resp: &mut Response<Body>) {
    let Some(skew) = st.lock().expect("mock state").date_skew else {
        return;
    };
    let when = super::login::now() as i64 + skew;
    if let Ok(v) = imf_fixdate(when).parse() {
        resp.headers_mut().insert("date", v);
    }
}

/// `Mon, 07 Dec 2026 21:58:00 GMT` for unix seconds `t`.
pub fn imf_fixdate(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    // The civil date of a day count (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}
