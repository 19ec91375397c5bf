//! Sample bodies shaped like real hospital bills, shared by the tests and the benchmark.

// Each user of this module uses a different part of it.
#![allow(dead_code)]

use medledger_privacy::{ChargeItem, PrivateBody};
use medledger_types::{ChargeCategory, Fen};

/// One charge: amount = unit price × quantity, and `self_paid_percent` of it paid by the patient.
pub fn charge(
    code: &str,
    name: &str,
    category: ChargeCategory,
    unit_price_fen: u64,
    quantity: u32,
    self_paid_percent: u64,
) -> ChargeItem {
    let amount = unit_price_fen * u64::from(quantity);
    ChargeItem {
        code: code.to_string(),
        name: name.to_string(),
        category,
        unit_price: Fen(unit_price_fen),
        quantity,
        amount: Fen(amount),
        self_paid: Fen(amount * self_paid_percent / 100),
    }
}

/// A typical outpatient visit: ten itemised charges.
pub fn outpatient_body() -> PrivateBody {
    use ChargeCategory::*;
    PrivateBody {
        patient_name: "王秀英".into(),
        patient_id: "440106198703152846".into(),
        department: "呼吸内科门诊".into(),
        diagnosis: "J18.900 社区获得性肺炎；J45.901 支气管哮喘（非危重）".into(),
        items: vec![
            charge("110200001", "副主任医师诊查费", Consultation, 2_500, 1, 0),
            charge("250101015", "血细胞分析（五分类）", Examination, 2_000, 1, 0),
            charge("250305011", "C反应蛋白测定（CRP）", Examination, 4_000, 1, 0),
            charge("250403002", "降钙素原检测（PCT）", Examination, 15_000, 1, 20),
            charge("210103026", "胸部正侧位数字化摄影（DR）", Imaging, 9_000, 1, 0),
            charge(
                "XJ01DDA032A001010101958",
                "头孢克肟胶囊 0.1g×6粒",
                WesternMedicine,
                3_260,
                2,
                0,
            ),
            charge(
                "XR03ACS129L020010106102",
                "沙丁胺醇吸入气雾剂 100μg×200揿",
                WesternMedicine,
                2_480,
                1,
                0,
            ),
            charge(
                "ZA04BAL0251010100951",
                "连花清瘟胶囊 0.35g×24粒",
                ChineseMedicine,
                1_580,
                2,
                10,
            ),
            charge("120400001", "雾化吸入", Treatment, 1_200, 3, 0),
            charge("HC1402030000001", "一次性使用雾化器", Materials, 1_850, 1, 100),
        ],
        payment_channel: "医保电子凭证+微信支付".into(),
    }
}

/// A long inpatient stay: `items` itemised charges cycling through a ward's usual charges.
pub fn inpatient_body(items: usize) -> PrivateBody {
    use ChargeCategory::*;
    let kinds: [(&str, &str, ChargeCategory, u64, u32, u64); 10] = [
        ("110900001", "普通病房床位费（三人间）", Bed, 4_500, 1, 0),
        ("111000002", "Ⅱ级护理", Treatment, 2_800, 1, 0),
        ("120100004", "静脉输液（第二组起）", Treatment, 600, 3, 0),
        ("250102001", "尿液分析", Examination, 1_500, 1, 0),
        ("250301002", "肝功能检测（十二项）", Examination, 9_600, 1, 0),
        (
            "XJ01CRA178B002010102344",
            "注射用哌拉西林钠他唑巴坦钠 4.5g",
            WesternMedicine,
            4_215,
            3,
            0,
        ),
        ("XA02BCA065B001020105433", "注射用奥美拉唑钠 40mg", WesternMedicine, 1_236, 2, 0),
        ("XB05BBA010B011020101234", "0.9%氯化钠注射液 250ml", WesternMedicine, 380, 4, 0),
        ("HC0310000000002", "一次性使用输液器（带针）", Materials, 350, 4, 100),
        ("ZA01AAT0060010100124", "中药饮片调剂费", ChineseMedicine, 800, 1, 30),
    ];
    PrivateBody {
        patient_name: "欧阳建国".into(),
        patient_id: "ZY2026-0012873".into(),
        department: "普通外科二病区".into(),
        diagnosis: "K35.800 急性阑尾炎伴局限性腹膜炎；K80.200 胆囊结石不伴胆囊炎；\
                    I10.x00 高血压病（1级）"
            .into(),
        items: (0..items)
            .map(|i| {
                let (code, name, category, price, quantity, percent) = kinds[i % kinds.len()];
                charge(code, name, category, price, quantity, percent)
            })
            .collect(),
        payment_channel: "医保统筹+个人账户+银联卡".into(),
    }
}
