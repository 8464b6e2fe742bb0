"""Static catalogue: checkpoint categories, departments, place names and case wording.

Everything here is constant data grounded in the seed article (groups 基础设施, 城建环境,
市容市貌, 门前四包, 四违, 九小场所; flower beds, drain grates, garbage bins, street lamps, …).
"""

from __future__ import annotations

from dataclasses import dataclass

GROUPS: dict[str, tuple[str, str, tuple[float, float, float]]] = {
    "INF": ("基础设施", "Infrastructure", (72, 24, 4)),
    "ENV": ("城建环境", "Urban construction environment", (120, 48, 8)),
    "APP": ("市容市貌", "City appearance", (48, 12, 4)),
    "FDR": ("门前四包", "Four guarantees in front of the door", (24, 8, 4)),
    "ILL": ("四违", "Four illegal acts", (168, 72, 12)),
    "SMV": ("九小场所", "Nine kinds of small venues", (96, 24, 4)),
}
"""Group code → (zh, en, default time limits in hours for normal, urgent, hazard)."""

DEPARTMENTS: tuple[tuple[str, str, str], ...] = (
    ("dept-power", "兴隆台供电分公司", "Power utility (Xinglongtai branch)"),
    ("dept-police", "公安分局", "Police sub-bureau"),
    ("dept-traffic", "交警大队", "Traffic police brigade"),
    ("dept-greening", "园林绿化处", "Greening department"),
    ("dept-sanitation", "环境卫生管理处", "Sanitation department"),
    ("dept-municipal", "市政工程管理处", "Municipal engineering (roads, drains)"),
    ("dept-enforcement", "城市管理综合执法局", "Urban management enforcement bureau"),
    ("dept-market", "市场监督管理局", "Market regulation bureau"),
    ("dept-fire", "消防救援大队", "Fire and rescue brigade"),
    ("dept-housing", "住房和城乡建设局", "Housing and construction bureau"),
    ("dept-water", "自来水公司", "Water utility"),
    ("dept-gas", "燃气公司", "Gas utility"),
    ("dept-environment", "生态环境分局", "Ecology and environment sub-bureau"),
    ("dept-resources", "自然资源分局", "Natural resources sub-bureau"),
    ("dept-health", "卫生健康局", "Health commission"),
    ("dept-education", "教育局", "Education bureau"),
    ("dept-culture", "文化旅游和广播电视局", "Culture and tourism bureau"),
    ("dept-telecom", "通信运营商联合办", "Telecom operators' joint office"),
    ("dept-oilfield", "油田采油作业区", "Oil field production area"),
    ("dept-transport", "交通运输局", "Transport bureau"),
)
"""Functional departments (职能部门): unit id, zh name, en name."""

# (group, zh, en, department suffix, flags, checkpoint weight); flags: h = can be a hazard,
# c = often reported by citizens (hotline: travel, greening, damaged public facilities).
_ITEMS: tuple[tuple[str, str, str, str, str, int], ...] = (
    ("INF", "路灯", "Street lamps", "municipal", "c", 60),
    ("INF", "井篦子", "Drain grates", "municipal", "hc", 60),
    ("INF", "窨井盖", "Manhole covers", "municipal", "hc", 45),
    ("INF", "人行道板", "Sidewalk paving", "municipal", "c", 40),
    ("INF", "道路路面", "Road surface", "municipal", "c", 35),
    ("INF", "路缘石", "Curbstones", "municipal", "", 20),
    ("INF", "盲道", "Tactile paving", "municipal", "c", 20),
    ("INF", "交通信号灯", "Traffic lights", "traffic", "hc", 20),
    ("INF", "交通标志标线", "Traffic signs and markings", "traffic", "c", 25),
    ("INF", "公交站亭", "Bus shelters", "transport", "c", 25),
    ("INF", "道路护栏", "Road guardrails", "municipal", "", 20),
    ("INF", "隔离墩", "Traffic bollards", "traffic", "", 15),
    ("INF", "消防栓", "Fire hydrants", "fire", "h", 25),
    ("INF", "供电线路", "Power lines", "power", "h", 20),
    ("INF", "变压器及配电箱", "Transformers and distribution boxes", "power", "h", 20),
    ("INF", "通信线缆", "Telecom cables", "telecom", "h", 15),
    ("INF", "燃气管线标识", "Gas pipeline markers", "gas", "h", 10),
    ("INF", "供水管道及阀门井", "Water mains and valve wells", "water", "hc", 15),
    ("INF", "排水管网", "Sewer network", "municipal", "c", 20),
    ("INF", "桥梁及涵洞", "Bridges and culverts", "municipal", "h", 8),
    ("INF", "过街天桥地下通道", "Footbridges and underpasses", "municipal", "", 6),
    ("INF", "公共厕所", "Public toilets", "sanitation", "c", 25),
    ("INF", "公共座椅", "Public benches", "greening", "c", 25),
    ("INF", "健身器材", "Outdoor fitness equipment", "culture", "c", 30),
    ("INF", "非机动车停放点", "Bicycle parking areas", "traffic", "", 20),
    ("INF", "停车泊位", "Parking bays", "traffic", "c", 25),
    ("INF", "路名牌", "Street name signs", "municipal", "", 20),
    ("INF", "门牌楼牌", "House and building numbers", "housing", "", 15),
    ("INF", "视频监控探头", "CCTV cameras", "police", "", 15),
    ("INF", "抽油机井场围栏", "Oil well pad fences", "oilfield", "h", 10),
    ("ENV", "花坛", "Flower beds", "greening", "c", 60),
    ("ENV", "绿化带", "Green belts", "greening", "c", 55),
    ("ENV", "行道树", "Street trees", "greening", "hc", 45),
    ("ENV", "街头游园", "Pocket parks", "greening", "c", 20),
    ("ENV", "公园广场", "Parks and squares", "greening", "c", 15),
    ("ENV", "小区院落", "Residential courtyards", "housing", "c", 45),
    ("ENV", "背街小巷", "Back alleys", "sanitation", "c", 40),
    ("ENV", "城中村环境", "Urban-village environment", "housing", "", 15),
    ("ENV", "建筑工地围挡", "Construction site hoardings", "housing", "", 15),
    ("ENV", "工地扬尘", "Construction dust", "environment", "c", 12),
    ("ENV", "渣土运输", "Muck haulage", "enforcement", "", 10),
    ("ENV", "河道沟渠", "Rivers and ditches", "environment", "c", 12),
    ("ENV", "积水点", "Waterlogging spots", "municipal", "hc", 15),
    ("ENV", "老旧楼道", "Old stairwells", "housing", "h", 25),
    ("ENV", "楼体外立面", "Building facades", "housing", "h", 20),
    ("ENV", "空调外机", "Outdoor AC units", "housing", "h", 10),
    ("ENV", "电动车充电设施", "E-bike charging points", "fire", "h", 15),
    ("ENV", "小区消防通道", "Residential fire lanes", "fire", "hc", 25),
    ("ENV", "噪声源", "Noise sources", "environment", "c", 8),
    ("ENV", "油烟排放", "Cooking fume exhausts", "environment", "c", 10),
    ("ENV", "露天焚烧点", "Open burning spots", "environment", "h", 8),
    ("ENV", "农贸市场周边环境", "Surroundings of farmers' markets", "market", "c", 12),
    ("APP", "垃圾桶", "Garbage bins", "sanitation", "c", 70),
    ("APP", "垃圾收集点", "Refuse collection points", "sanitation", "c", 40),
    ("APP", "果皮箱", "Litter bins", "sanitation", "", 35),
    ("APP", "道路保洁", "Street cleaning", "sanitation", "c", 40),
    ("APP", "小广告", "Illegal small ads", "enforcement", "c", 35),
    ("APP", "乱涂乱画", "Graffiti", "enforcement", "", 15),
    ("APP", "户外广告牌", "Outdoor billboards", "enforcement", "h", 20),
    ("APP", "门头牌匾", "Shop signboards", "enforcement", "h", 30),
    ("APP", "公益广告", "Public-service posters", "culture", "", 25),
    ("APP", "橱窗", "Shop windows", "enforcement", "", 15),
    ("APP", "占道经营", "Street stalls on the road", "enforcement", "c", 35),
    ("APP", "流动摊贩", "Mobile vendors", "enforcement", "c", 25),
    ("APP", "乱停乱放", "Illegal parking", "traffic", "c", 40),
    ("APP", "共享单车停放", "Shared-bike parking", "traffic", "c", 20),
    ("APP", "乱搭乱挂", "Clotheslines and hanging items", "enforcement", "", 20),
    ("APP", "乱堆乱放", "Stacked clutter", "sanitation", "c", 30),
    ("APP", "暴露垃圾", "Exposed garbage", "sanitation", "c", 30),
    ("APP", "建筑垃圾", "Construction waste", "enforcement", "", 15),
    ("APP", "废弃车辆", "Abandoned vehicles", "traffic", "", 10),
    ("APP", "犬只管理", "Dog control", "police", "c", 8),
    ("APP", "景观照明", "Decorative lighting", "municipal", "", 15),
    ("APP", "城市家具", "Street furniture", "municipal", "", 15),
    ("APP", "文明宣传栏", "Civility notice boards", "culture", "", 25),
    ("APP", "道路积雪", "Snow on roads", "sanitation", "c", 10),
    ("FDR", "门前卫生", "Cleanliness in front of the door", "sanitation", "", 35),
    ("FDR", "门前秩序", "Order in front of the door", "enforcement", "", 30),
    ("FDR", "门前绿化", "Greenery in front of the door", "greening", "", 20),
    ("FDR", "门前设施", "Facilities in front of the door", "enforcement", "", 20),
    ("FDR", "店外经营", "Business spilling out of shops", "enforcement", "c", 30),
    ("FDR", "门前车辆停放", "Parking in front of the door", "traffic", "", 20),
    ("FDR", "门前积雪清扫", "Snow clearing in front of the door", "sanitation", "", 10),
    ("FDR", "门前垃圾分类", "Waste sorting in front of the door", "sanitation", "", 15),
    ("FDR", "门前油污", "Oil stains in front of the door", "sanitation", "", 10),
    ("FDR", "门前晾晒", "Drying laundry in front of the door", "enforcement", "", 8),
    ("FDR", "门前灯箱", "Light boxes in front of the door", "enforcement", "h", 12),
    ("FDR", "门前责任牌", "Responsibility plates at the door", "enforcement", "", 15),
    ("ILL", "违法建设", "Illegal construction", "enforcement", "c", 12),
    ("ILL", "违法占地", "Illegal land occupation", "resources", "", 8),
    ("ILL", "违法排污", "Illegal discharge", "environment", "hc", 8),
    ("ILL", "违法经营", "Illegal business", "market", "c", 10),
    ("ILL", "私搭乱建", "Unauthorised sheds", "enforcement", "c", 12),
    ("ILL", "违规存放易燃易爆物品", "Improper storage of flammables", "fire", "h", 8),
    ("ILL", "违法传销线索", "Suspected pyramid-scheme activity", "police", "", 4),
    ("ILL", "非法小广告张贴", "Illegal ad posting gangs", "police", "", 6),
    ("ILL", "违法采砂取土", "Illegal sand and soil digging", "resources", "", 4),
    ("ILL", "违章圈占绿地", "Fenced-off public green", "greening", "", 6),
    ("SMV", "小商店消防安全", "Small shops: fire safety", "fire", "h", 25),
    ("SMV", "小商店经营秩序", "Small shops: trading order", "market", "", 20),
    ("SMV", "小餐饮食品卫生", "Small eateries: food hygiene", "market", "c", 25),
    ("SMV", "小餐饮燃气安全", "Small eateries: gas safety", "gas", "h", 20),
    ("SMV", "小旅馆治安登记", "Small hotels: guest registration", "police", "", 8),
    ("SMV", "小旅馆消防安全", "Small hotels: fire safety", "fire", "h", 8),
    ("SMV", "小网吧未成年人管理", "Small internet cafés: minors", "culture", "", 8),
    ("SMV", "小网吧消防安全", "Small internet cafés: fire safety", "fire", "h", 6),
    ("SMV", "小歌舞娱乐场所", "Small karaoke and dance venues", "culture", "", 6),
    ("SMV", "小美容洗浴场所", "Small beauty and bath venues", "health", "", 10),
    ("SMV", "小诊所", "Small clinics", "health", "", 8),
    ("SMV", "小学校幼儿园周边", "Around small schools and kindergartens", "education", "c", 10),
    ("SMV", "校外托管机构", "After-school care centres", "education", "", 6),
    ("SMV", "小生产加工作坊", "Small workshops", "fire", "h", 8),
    ("SMV", "小仓储场所", "Small warehouses", "fire", "h", 6),
    ("SMV", "废品收购站", "Scrap collection yards", "enforcement", "h", 6),
    ("SMV", "汽车维修点", "Car repair shops", "environment", "", 8),
    ("SMV", "加油站周边", "Around petrol stations", "fire", "h", 4),
)


@dataclass(frozen=True)
class CategoryInfo:
    """One checkpoint/case category with its department, time limits and simulation weights."""

    category_id: str
    name_zh: str
    name_en: str
    group: str
    department_id: str
    limits: tuple[float, float, float]
    hazard: bool
    citizen: bool
    weight: int


def categories(count: int = 116) -> list[CategoryInfo]:
    """Return the first ``count`` categories (116 in the seed) with stable ids."""
    if count > len(_ITEMS):
        raise ValueError(f"only {len(_ITEMS)} categories are defined, {count} requested")
    result: list[CategoryInfo] = []
    numbers: dict[str, int] = {}
    for group, zh, en, dept, flags, weight in _ITEMS[:count]:
        numbers[group] = numbers.get(group, 0) + 1
        limits = GROUPS[group][2]
        if "h" in flags:  # hazards are safety matters: shorter limits
            limits = (min(limits[0], 48), min(limits[1], 12), min(limits[2], 4))
        result.append(CategoryInfo(f"{group}{numbers[group]:02d}", zh, en, group, f"dept-{dept}",
                                   limits, "h" in flags, "c" in flags, weight))
    return result


STREET_NAMES: tuple[tuple[str, str], ...] = (
    ("渤海街道", "Bohai Subdistrict"),
    ("兴海街道", "Xinghai Subdistrict"),
    ("振兴街道", "Zhenxing Subdistrict"),
    ("兴盛街道", "Xingsheng Subdistrict"),
    ("创新街道", "Chuangxin Subdistrict"),
    ("新工街道", "Xingong Subdistrict"),
    ("曙光街道", "Shuguang Subdistrict"),
    ("欢喜岭街道", "Huanxiling Subdistrict"),
)
"""The eight streets: the seed names 渤海, 兴海 and 振兴; the others are plausible local names."""

NAMED_COMMUNITIES: tuple[tuple[int, str, str], ...] = (
    (0, "广厦新城社区", "Guangsha Xincheng Community"),
    (1, "水木清华社区", "Shuimu Qinghua Community"),
    (2, "振兴社区", "Zhenxing Community"),
    (0, "热电社区", "Redian Community"),
)
"""Communities named in the seed: (street index, zh, en)."""

COMMUNITY_WORDS: tuple[tuple[str, str], ...] = (
    ("兴隆", "Xinglong"), ("锦华", "Jinhua"), ("惠宾", "Huibin"), ("友谊", "Youyi"), ("新生", "Xinsheng"),
    ("春光", "Chunguang"), ("东风", "Dongfeng"), ("胜利", "Shengli"), ("和平", "Heping"),
    ("长青", "Changqing"), ("泰山", "Taishan"), ("华油", "Huayou"), ("石油", "Shiyou"), ("钻采", "Zuancai"),
    ("油建", "Youjian"), ("井下", "Jingxia"), ("科技", "Keji"), ("文化", "Wenhua"), ("育才", "Yucai"),
    ("园丁", "Yuanding"), ("光明", "Guangming"), ("幸福", "Xingfu"), ("康乐", "Kangle"), ("金秋", "Jinqiu"),
    ("阳光", "Yangguang"), ("丽景", "Lijing"), ("翠园", "Cuiyuan"), ("湖滨", "Hubin"), ("双兴", "Shuangxing"),
    ("民主", "Minzhu"), ("团结", "Tuanjie"), ("红旗", "Hongqi"), ("曙光", "Shuguang"), ("欢喜", "Huanxi"),
    ("金宇", "Jinyu"), ("华锦", "Huajin"), ("鼎翔", "Dingxiang"), ("中兴", "Zhongxing"), ("蓝天", "Lantian"),
    ("绿洲", "Lüzhou"), ("惠民", "Huimin"), ("泰和", "Taihe"), ("安居", "Anju"), ("祥和", "Xianghe"),
    ("福泽", "Fuze"), ("锦绣", "Jinxiu"), ("富民", "Fumin"), ("平安", "Ping'an"), ("学府", "Xuefu"),
    ("天河", "Tianhe"), ("紫金", "Zijin"), ("银河", "Yinhe"), ("金港", "Jingang"), ("辽河", "Liaohe"),
    ("滨河", "Binhe"), ("新华", "Xinhua"), ("建设", "Jianshe"), ("创业", "Chuangye"), ("向阳", "Xiangyang"),
    ("东湖", "Donghu"), ("西园", "Xiyuan"), ("南苑", "Nanyuan"), ("北辰", "Beichen"), ("中央", "Zhongyang"),
    ("世纪", "Shiji"), ("瑞景", "Ruijing"), ("博雅", "Boya"), ("翰林", "Hanlin"), ("馨园", "Xinyuan"),
    ("嘉禾", "Jiahe"), ("恒泰", "Hengtai"), ("润泽", "Runze"), ("海湾", "Haiwan"), ("鹤乡", "Hexiang"),
    ("苇海", "Weihai"), ("红海滩", "Honghaitan"), ("湿地", "Shidi"), ("金水", "Jinshui"), ("玉龙", "Yulong"),
)
"""Two-character words for generated community names (社区)."""

VILLAGE_WORDS: tuple[tuple[str, str], ...] = (
    ("欢喜岭", "Huanxiling"), ("茨采", "Cicai"), ("小亮沟", "Xiaolianggou"), ("平安堡", "Ping'anpu"),
    ("兴隆台", "Xinglongtai"), ("南岗子", "Nangangzi"), ("新立", "Xinli"), ("潘家", "Panjia"),
    ("于家", "Yujia"), ("大洼子", "Dawazi"), ("东郭", "Dongguo"), ("西安", "Xi'an"), ("前进", "Qianjin"),
    ("高家", "Gaojia"), ("王家", "Wangjia"), ("腰岗子", "Yaogangzi"), ("三道沟", "Sandaogou"),
    ("石庙子", "Shimiaozi"), ("甜水", "Tianshui"), ("荣兴", "Rongxing"),
)
"""Place words for generated administrative village names (村)."""

PROBLEMS: dict[str, tuple[str, ...]] = {
    "INF": ("损坏", "缺失", "松动", "不亮", "倾斜", "破损严重"),
    "ENV": ("杂草丛生", "枯死缺株", "脏乱", "积水", "堆放杂物", "破损"),
    "APP": ("满溢", "脏污", "破损", "占道", "乱贴乱挂", "未及时清理"),
    "FDR": ("不整洁", "乱堆放", "占道经营", "责任落实不到位"),
    "ILL": ("疑似违规", "正在施工", "群众反映强烈", "存在隐患"),
    "SMV": ("消防通道堵塞", "灭火器过期", "证照不全", "卫生不达标"),
}
"""Problem phrases per group, for case descriptions."""

HAZARD_STORIES: tuple[str, ...] = (
    "变压器延伸出一根裸露的明线电缆，经小区至学校东墙，存在重大安全隐患",
    "居民院内存放两桶汽油，存在火灾爆炸隐患",
    "窨井盖缺失，夜间行人车辆易坠落",
    "燃气管道附近有异味，疑似泄漏",
    "楼体外墙皮松动，随时可能脱落",
)
"""Hazard descriptions inspired by the seed (the exposed cable, the gasoline barrels)."""
