"""Canned completions of the demo prompts, so that ranking, comparing, rating and exporting can
be tried without a model server (`seed_demo --judgements N`).

Each prompt gets completions of known quality, best first: a good answer (the prompt's
reference where it has one, else one written here), a partial one (cut off halfway, as by a
token limit), then vague and off-topic answers of the kind a small model gives. The synthetic
annotators judge by that quality with some noise, so the demo data has agreement and
disagreement.
"""

from labeling.demo.prompts import DemoPrompt

GOOD_ANSWERS: dict[str, str] = {
    "Give me five ideas for a rainy Sunday afternoon": (
        "1. Build a blanket fort and read stories inside it with a torch.\n"
        "2. Bake and decorate simple cookies together.\n"
        "3. Hold a board-game tournament with a homemade trophy.\n"
        "4. Make a treasure hunt with clues hidden around the house.\n"
        "5. Put on a puppet show using socks and a cardboard box as the stage."
    ),
    "List some ways to reduce food waste": (
        "Plan meals for the week and shop with a list; keep older food at the front of the "
        "fridge; freeze bread, leftovers and ripe fruit before they spoil; cook smaller "
        "portions; and turn leftovers into soups, fried rice or omelettes."
    ),
    "Suggest names for a neighborhood bakery": (
        "Rise & Crust, The Wild Yeast, Slow Dough Bakery, Starter House, Crumb & Culture, "
        "and Sunday Sourdough."
    ),
    "비 오는 주말에 집에서 혼자 할 만한 취미": (
        "1. 빗소리를 들으며 책 한 권 끝까지 읽기\n2. 간단한 홈베이킹(머핀, 쿠키) 해 보기\n"
        "3. 퍼즐이나 레고 맞추기\n4. 짧은 온라인 강의로 새로운 것 배우기\n"
        "5. 일기나 짧은 글 써 보기"
    ),
    "팀 워크숍에서 처음 만난 사람들끼리": (
        "'두 개의 진실과 하나의 거짓말'은 각자 자기 이야기 세 가지 중 거짓 하나를 맞히는 "
        "게임이라 금방 친해질 수 있어요. '공통점 찾기'로 조별 공통점을 3분 안에 다섯 개 "
        "찾게 하거나, 자기 이름 첫 글자로 별명을 지어 소개하는 것도 좋습니다."
    ),
    "부모님 결혼 30주년 선물로": (
        "두 분의 사진을 모아 만든 포토북(5만 원 안팎)에 손편지를 곁들이거나, 1박 2일 "
        "온천 여행 상품권(20~30만 원)을 추천해요. 커플 시계나 가족 외식 자리를 마련해도 "
        "예산 안에서 의미 있는 선물이 됩니다."
    ),
    "What is the difference between a virus and a bacterium?": (
        "Bacteria are single living cells that can grow and reproduce on their own, and many "
        "can be treated with antibiotics. Viruses are much smaller, are not cells, and can "
        "only reproduce inside a host's cells, so antibiotics do not work on them."
    ),
    "How does a refrigerator keep food cold?": (
        "A refrigerator pumps a refrigerant through a loop. The liquid evaporates in coils "
        "inside the fridge, absorbing heat from the food; a compressor then squeezes the gas "
        "and it releases that heat through coils at the back, before the cycle starts again."
    ),
    "김치를 왜 발효 음식이라고 하나요?": (
        "김치는 소금에 절인 배추와 양념 속 젖산균이 당분을 분해하면서 젖산을 만들어 내기 "
        "때문에 발효 음식이라고 해요. 이 과정에서 특유의 새콤한 맛이 생기고 오래 보관할 수 "
        "있게 됩니다."
    ),
    "지구에서 달까지 거리는": (
        "지구에서 달까지의 평균 거리는 약 38만 4천 km예요. 달의 궤도가 타원이라 가장 "
        "가까울 때는 약 36만 km, 가장 멀 때는 약 40만 km입니다."
    ),
    "커피를 마시면 왜 잠이 잘 안 오나요?": (
        "커피의 카페인이 뇌에서 졸음을 느끼게 하는 아데노신이라는 물질이 수용체에 붙지 "
        "못하게 막기 때문이에요. 카페인 효과는 몇 시간 이어지므로 오후 늦게 마시면 잠들기 "
        "어려울 수 있습니다."
    ),
    "When was the Eiffel Tower inaugurated": (
        "The Eiffel Tower was inaugurated in 1889 as the entrance to the World's Fair. It was "
        "the tallest man-made structure until the Chrysler Building in New York overtook it "
        "in 1930."
    ),
    "According to the policy, how many days a week": (
        "Employees may work remotely up to two days per week. Exceptions must be approved in "
        "writing by the employee's manager and by HR."
    ),
    "다음 안내문에 따르면 도서관은 언제 쉬고": (
        "도서관은 매주 월요일과 법정 공휴일에 쉽니다. 회원증이 있으면 한 번에 최대 5권까지 "
        "14일 동안 빌릴 수 있어요."
    ),
    "다음 글에 따르면 한라산의 높이는": (
        "한라산의 높이는 1,947m입니다. 제주도는 약 180만 년 전부터 이어진 화산 활동으로 "
        "만들어졌습니다."
    ),
    "Summarize the following text in two sentences.": (
        "During sleep the brain stores the day's memories and the body repairs itself, so "
        "sleep matters for learning and health. Most adults need seven to nine hours, and "
        "regular sleep habits help more than catching up at weekends."
    ),
    "Summarize this email in one sentence": (
        "The website launch moves from June 14 to June 21 because the payment integration is "
        "taking longer after the provider changed its API."
    ),
    "Summarize these meeting notes as three bullet points.": (
        "- The new crosswalk on Maple Street is approved; construction starts in May.\n"
        "- The board will ask the city for a second recycling pickup on Elm Court.\n"
        "- Spring cleanup: Saturday, April 20, 9 a.m. at the park entrance; next meeting May 1."
    ),
    "다음 글을 두 문장으로 요약해 주세요.": (
        "하루 30분 빠르게 걷기는 심폐 기능을 높이고 혈압과 혈당을 낮추며 스트레스를 푸는 데도 "
        "좋다. 처음에는 10분씩 나누어 걷다가 조금씩 시간을 늘리고, 발에 맞는 신발을 신는 것이 "
        "좋다."
    ),
    "다음 기사 내용을 세 줄로 정리해 주세요.": (
        "- 한빛시 공공자전거 '달림이' 요금이 1시간 1,000원에서 30분 500원으로 바뀐다.\n"
        "- 지하철역 주변에 대여소 50곳을 새로 만들어 모두 350곳으로 늘린다.\n"
        "- 출퇴근 시간 자전거 부족 민원에 따라 연말까지 자전거 1,000대를 더 배치한다."
    ),
    "Is the sentiment of this product review": "Mixed",
    "Which of these animals are mammals": (
        "The mammals are the dolphin, the bat and the whale. The shark is a fish, the penguin "
        "is a bird and the frog is an amphibian."
    ),
    "다음 리뷰의 감정을 긍정, 부정, 중립 중": (
        "긍정입니다. 빠른 배송과 사진과 같은 품질에 만족한다고 했어요."
    ),
    "다음 단어들을 과일과 채소로 나눠 줘": "과일: 사과, 포도, 귤\n채소: 배추, 오이, 시금치",
    "다음 고객 문의가 배송, 환불, 제품 불량": (
        "제품 불량입니다. 구매한 전기포트에 전원이 들어오지 않아 교환을 문의하고 있기 때문이에요."
    ),
    "List every date in the text below": (
        "- March 3: registration opens\n- April 15: registration closes\n"
        "- May 2: speakers' slides are due\n- May 20 to May 22: the conference, in Lisbon"
    ),
    "From this job posting, extract": (
        "Job title: Junior Data Analyst. Location: Manchester (hybrid, three office days a "
        "week). Salary: £28,000-£32,000 per year. Experience: at least one year with SQL and "
        "spreadsheets."
    ),
    "Name every person mentioned in the passage": (
        "Maria Lopez: CEO, introduced the app. Tom Becker: lead designer, explained the testing "
        "with older users. Dr. Aisha Khan: researcher who advised the team on accessibility."
    ),
    "다음 글에 나오는 사람 이름과 직업을": (
        "- 박지현: 동네 빵집 주인 (축제 제안)\n- 이준호: 초등학교 교사 (아이들과 공연 준비)\n"
        "- 최유나: 사진작가 (축제 현장 기록)"
    ),
    "다음 제품 설명에서 제품명, 가격": (
        "| 제품명 | 가격 | 무게 | 배터리 사용 시간 |\n|---|---|---|---|\n"
        "| 에어라이트 14 | 129만 원 | 1.12kg | 최대 18시간 |"
    ),
    "Write a short poem about a cat watching the rain": (
        "Paws tucked neat on the windowsill,\nshe follows every drop until\n"
        "the glass is a river, the garden a sea,\nand she purrs at the storm she will "
        "never meet."
    ),
    "Write the opening paragraph of a mystery story": (
        "The tide came in at six, as it always did in Port Merrow, but that morning it brought "
        "something else: a rowing boat with no one in it, its oars neatly stowed and a single "
        "wet footprint on the seat."
    ),
    "Write a friendly two-sentence birthday message": (
        "Happy birthday! I hope your year ahead is full of great trails, clear skies and views "
        "worth every step."
    ),
    "첫눈 오는 날을 주제로 짧은 시를": (
        "소리 없이 내려앉은\n하얀 첫 인사\n창문마다 불이 켜지고\n우리는 괜히 웃는다"
    ),
    "할머니 댁에서 보낸 여름방학을": (
        "할머니 댁 마루에 누우면 매미 소리가 파도처럼 밀려왔다. 할머니는 우물물에 담가 둔 "
        "수박을 꺼내 주셨고, 나는 씨를 멀리 뱉는 시합을 하며 하루를 보냈다. 지금도 여름이 "
        "오면 그 마루의 시원한 나무 냄새가 먼저 생각난다."
    ),
    "우주 정거장에서 일하는 로봇이": (
        "우주 정거장 '별빛호'에는 작은 청소 로봇 콩이가 살았어요. 콩이는 매일 아침 둥둥 "
        "떠다니는 먼지를 모으며 창밖의 파란 지구에게 인사했지요. 그런데 오늘은 창밖에 처음 "
        "보는 반짝이는 무언가가 떠 있었어요."
    ),
    "What are some tips for getting better sleep?": (
        "Go to bed and get up at the same times every day, keep the bedroom dark and cool, "
        "avoid caffeine after lunch, and put screens away for an hour before bed."
    ),
    "How do I politely decline a meeting invitation": (
        'Thank your manager, give a short reason, and offer an alternative: "Thanks for '
        "including me. I'm finishing the report due tomorrow, so could I catch up from the "
        'notes, or join the next one?"'
    ),
    "Should I learn Python or JavaScript": (
        "Pick by goal: JavaScript if you want to build websites, since it runs in every "
        "browser; Python if you are interested in data, automation or science, as its syntax "
        "is very beginner-friendly. Either teaches the basics that carry over to the other."
    ),
    "처음으로 혼자 자취를 시작하는데": (
        "전입신고와 공과금 자동이체부터 챙기세요. 살림은 이불, 수건, 냄비 하나와 프라이팬, "
        "기본 양념, 상비약, 멀티탭 정도면 시작하기에 충분하고, 나머지는 지내면서 필요한 "
        "것만 사는 게 좋아요."
    ),
    "영어 회화 실력을 늘리려면": (
        "매일 15분이라도 소리 내어 말하는 시간을 만드세요. 좋아하는 영상의 대사를 따라 하는 "
        "쉐도잉, 하루 일과를 영어로 말해 보기, 온라인 회화 수업처럼 실제로 대화할 기회를 "
        "꾸준히 만드는 것이 효과적입니다."
    ),
    "면접에서 자기소개를 할 때": (
        "1분 안에 지원 직무와 관련된 경험과 강점 한두 가지를 중심으로 말하세요. 이력서를 "
        "그대로 읽지 말고, 구체적인 성과를 예로 들며 밝은 표정과 또렷한 목소리로 마무리하는 "
        "것이 좋습니다."
    ),
    "Rewrite the following sentence in simple English": (
        "Green plants use sunlight to turn air and water into their food, and they give off "
        "the oxygen we breathe."
    ),
    "Fix the grammar and spelling in this text.": (
        "My friend and I go to the library every Tuesday, because it has a good selection of "
        "comic books."
    ),
    "다음 문장을 회사 상사에게 보내는 정중한": (
        "내일 회의에는 참석하기 어려울 것 같습니다. 죄송합니다. 관련 자료는 메일로 보내 "
        "드리겠습니다."
    ),
    "다음 글을 초등학생도 이해할 수 있게": (
        "기후 변화는 사람들이 내보내는 가스 때문에 지구가 점점 더워지고, 그래서 비가 오는 "
        "모습이나 바닷물 높이 같은 날씨 전체가 오랫동안 바뀌는 것을 말해요."
    ),
    "Explain what this Python code prints and why.": (
        "It prints [1, 3, 4, 5]. set() removes the duplicate 1, and sorted() returns the "
        "remaining numbers as a list in ascending order."
    ),
    "Write a Python function that counts how many times each word": (
        "def word_counts(sentence):\n    counts = {}\n    for word in sentence.lower().split():"
        "\n        counts[word] = counts.get(word, 0) + 1\n    return counts"
    ),
    "다음 파이썬 코드에서 오류가 나는 이유를": (
        "input()은 문자열을 돌려주기 때문에 문자열과 숫자 1을 더할 수 없어 TypeError가 "
        '납니다. age = int(input("나이를 입력하세요: "))처럼 정수로 바꾼 뒤 더하면 됩니다.'
    ),
    "파이썬에서 리스트와 튜플의 차이를": (
        "리스트는 [1, 2, 3]처럼 만들고 나중에 값을 바꿀 수 있지만(예: a[0] = 10), 튜플은 "
        "(1, 2, 3)처럼 만들고 한 번 정하면 바꿀 수 없어요. 바뀌면 안 되는 값은 튜플, 계속 "
        "바뀌는 목록은 리스트를 쓰면 됩니다."
    ),
}

VAGUE_ANSWERS = {
    "en": (
        "That's a great question! There are many factors to consider, and the answer depends "
        "on your situation. It may help to look into it further.",
        "There are several possible answers here. Different people would approach this in "
        "different ways, so it is hard to say exactly.",
        "I hope this helps. Let me know if you have any other questions about this topic.",
        "It depends. Some would say yes and some would say no.",
    ),
    "ko": (
        "좋은 질문이에요! 상황에 따라 답이 달라질 수 있으니 관련 자료를 더 찾아보시는 게 "
        "좋겠습니다.",
        "여러 가지 답이 있을 수 있어요. 사람마다 생각이 달라서 정확히 말하기는 어렵습니다.",
        "도움이 되셨길 바랍니다. 더 궁금한 점이 있으면 언제든 물어보세요.",
        "경우에 따라 다릅니다. 그렇다고 할 수도 있고 아니라고 할 수도 있어요.",
    ),
}

OFF_TOPIC_ANSWERS = {
    "en": (
        "The Eiffel Tower is located in Paris, France. The Eiffel Tower is located in Paris, "
        "France. The Eiffel Tower is located in Paris.",
        "As an AI language model, I do not have personal opinions.",
        "Here is a recipe for pancakes: mix flour, eggs and milk, then fry in a hot pan.",
        "Sure! What would you like to know?",
    ),
    "ko": (
        "안녕하세요! 저는 인공지능 언어 모델입니다. 무엇을 도와드릴까요?",
        "Sure! Here is the answer in English: I am not able to help with that.",
        "서울은 대한민국의 수도입니다. 서울은 대한민국의 수도입니다.",
        "오늘 날씨가 맑고 좋네요. 산책하기 좋은 날입니다.",
    ),
}

# Quality levels, best first; the synthetic annotators judge by these.
GOOD, PARTIAL, VAGUE, OFF_TOPIC = 0, 1, 2, 3


def canned_completions(item: DemoPrompt, count: int) -> list[tuple[str, int]]:
    """Up to `count` distinct (text, quality) completions of a demo prompt, best first."""
    good = item.reference or good_answer(item.instruction)
    language = "ko" if item.language == "ko" else "en"
    candidates = [(good, GOOD), (_truncated(good), PARTIAL)]
    for vague, off_topic in zip(VAGUE_ANSWERS[language], OFF_TOPIC_ANSWERS[language], strict=True):
        candidates += [(vague, VAGUE), (off_topic, OFF_TOPIC)]
    seen: set[str] = set()
    chosen = []
    for text, quality in candidates:
        if text and text not in seen:
            seen.add(text)
            chosen.append((text, quality))
    return chosen[:count]


def good_answer(instruction: str) -> str:
    for start, answer in GOOD_ANSWERS.items():
        if instruction.startswith(start):
            return answer
    return ""


def _truncated(text: str) -> str:
    """About the first half of an answer, as a model stopped by its token limit leaves it."""
    if len(text) < 40:
        return ""
    cut = text[: len(text) // 2]
    boundary = max(cut.rfind("\n"), cut.rfind(". "), cut.rfind(" "))
    return cut[: boundary + 1].rstrip() if boundary > 10 else cut
