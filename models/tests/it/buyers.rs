//! What the buyer's side does: the purchase page against the RPC client.

use models::run::run_scenario;

use crate::support::{metrics, workspace};

/// The case study's three-tier design on 8 instances, its clients as `client` says.
fn case_study_clients(client: &str) -> models::Scenario {
    let file = workspace().join("scenarios/edu-live-class.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let head = &text[..text.find("[traffic.client]").unwrap()];
    let variant = "[[variant]]\nname = \"tt\"\narchitecture = \"three_tier_redis\"\n\
                   [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
                   [variant.db]\npool = 32\nguard = \"version\"\n";
    let text = format!("{head}[traffic.client]\n{client}\n{variant}");
    models::scenario::from_text(&file, &text, &[]).unwrap()
}

#[test]
fn a_purchase_page_never_resubmits_on_its_own() {
    let page = metrics(
        &run_scenario(&case_study_clients("profile = \"purchase_page\"\nmax_attempts = 4"), None)
            .unwrap(),
        "tt",
    );
    let rpc = metrics(
        &run_scenario(&case_study_clients("profile = \"rpc\"\nmax_attempts = 4"), None).unwrap(),
        "tt",
    );
    assert_eq!(page.traffic_digest, rpc.traffic_digest, "same buyers");
    let (p, r) = (&page.traffic_observed, &rpc.traffic_observed);
    assert_eq!(p.retry, 0, "every resubmission is a human's click after an error");
    assert!(p.reclick > r.reclick, "page {} vs rpc {}", p.reclick, r.reclick);
    assert!(r.retry > 10_000, "the RPC client resubmits: {}", r.retry);
    // The page's spinner outlasts the hot row's commits; the RPC client's 3 s does not.
    let timed_out = |m: &models::sale::metrics::SaleMetrics| {
        m.outcomes.get(models::sale::outcome::Outcome::TimedOut)
    };
    assert!(timed_out(&page) < timed_out(&rpc));
    assert!(page.claimed_order_rate.unwrap() > rpc.claimed_order_rate.unwrap());
}

#[test]
fn a_purchase_page_refuses_a_resubmission_policy() {
    let file = workspace().join("scenarios/edu-live-class.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let page =
        "profile = \"purchase_page\"\nretry = \"full_jitter\"\nbase = \"100ms\"\ncap = \"1s\"";
    let text = text.replace("profile = \"rpc\"", page);
    let err = models::scenario::from_text(&file, &text, &[]).unwrap_err().to_string();
    for key in ["traffic.client.retry", "traffic.client.base", "traffic.client.cap"] {
        assert!(err.contains(key), "{key} not named in: {err}");
    }
    assert!(err.contains("applies to profile = \"rpc\""), "{err}");
}

#[test]
fn unpaid_orders_are_cancelled_restocked_and_sold_again_while_the_sale_is_on() {
    // A 2 s window and half the told buyers paying: windows end while buyers are still trying.
    let file = workspace().join("scenarios/edu-live-class.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let head = &text[..text.find("[[variant]]").unwrap()];
    let head = head.replace(
        "[sale.payment]\n",
        "[sale.payment]\nwindow = \"2s\"\ntold_pay_share = 0.5\n\
         delay = { kind = \"constant\", value = \"500ms\" }\n",
    );
    let variant = "[[variant]]\nname = \"tt\"\narchitecture = \"three_tier_redis\"\n\
                   [variant.gateway]\ninstances = 8\nworkers = 128\nrate_limit = \"100k/s\"\n\
                   [variant.db]\npool = 32\nguard = \"version\"\n";
    let scn = models::scenario::from_text(&file, &format!("{head}{variant}"), &[]).unwrap();
    let m = metrics(&run_scenario(&scn, None).unwrap(), "tt");
    let p = m.payment.as_ref().expect("the payment stage is reported");
    assert_eq!(p.orders, m.sold);
    assert_eq!(p.paid + p.cancelled, p.orders, "every window ended paid or cancelled");
    assert!(p.cancelled > 500, "{p:?}");
    assert!(p.sold_after_restock > 100, "restocked units sold again: {p:?}");
    assert!(m.sold > 3000 && m.sold - p.cancelled <= 3000, "never more held than the stock");
    assert_eq!(m.oversold, 0, "selling a restocked unit again is no oversell");
    let rate = p.payment_success_rate.unwrap();
    assert!((rate - p.paid as f64 / p.orders as f64).abs() < 1e-12);
}

#[test]
fn a_limit_keyed_on_coupons_lets_accounts_buy_beyond_it_and_keyed_on_accounts_does_not() {
    // scenarios/coupon-oversell.toml: 10% of the buyers are accounts with 3 stackable coupons.
    let run = |key: &str| {
        let sets = [format!("sale.limit_key=\"{key}\"")];
        run_scenario(&crate::support::scenario("scenarios/coupon-oversell.toml", &sets), None)
            .unwrap()
    };
    let (coupon, account) = (run("coupon"), run("account"));
    let mut fewer_buyers = 0;
    for name in ["three-tier", "naive-for-update", "queue-stream"] {
        let (c, a) = (metrics(&coupon, name), metrics(&account, name));
        assert_eq!(c.traffic_digest, a.traffic_digest, "same buyers");
        assert!(c.limit_violations > 0, "{name}: every guard counts coupons as buyers");
        assert_eq!(a.limit_violations, 0, "{name}: keyed on the account, no violation");
        assert_eq!((c.oversold, a.oversold), (0, 0), "{name}: the stock itself holds");
        assert!(c.users_with_item <= a.users_with_item, "{name}");
        fewer_buyers += usize::from(c.users_with_item < a.users_with_item);
    }
    assert_eq!(fewer_buyers, 3, "the accounts' extra seats leave other buyers without one");
}
