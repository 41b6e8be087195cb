"""Prompts of the demo project: half English, half Korean, across the Dolly categories.

Kept short so that a 135M-parameter model can attempt every one of them. `reference` is an
answer written by hand; where present it is imported as a Demonstration.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class DemoPrompt:
    instruction: str
    category: str
    language: str
    input: str = ""
    reference: str = ""
    history: tuple = ()  # a conversation's earlier turns: this prompt is its next user turn

    @property
    def dedupe_key_parts(self) -> dict:
        return {"instruction": self.instruction, "input": self.input, "history": self.history}


DEMO_PROMPTS: tuple[DemoPrompt, ...] = (
    # --- brainstorming -------------------------------------------------------------------
    DemoPrompt(
        "Give me five ideas for a rainy Sunday afternoon at home with two kids aged 6 and 9.",
        "brainstorming",
        "en",
    ),
    DemoPrompt("List some ways to reduce food waste in a small household.", "brainstorming", "en"),
    DemoPrompt(
        "Suggest names for a neighborhood bakery that specializes in sourdough bread.",
        "brainstorming",
        "en",
    ),
    DemoPrompt(
        "비 오는 주말에 집에서 혼자 할 만한 취미를 다섯 가지 추천해 줘.", "brainstorming", "ko"
    ),
    DemoPrompt(
        "팀 워크숍에서 처음 만난 사람들끼리 할 만한 간단한 아이스브레이킹 게임을 알려 주세요.",
        "brainstorming",
        "ko",
    ),
    DemoPrompt(
        "부모님 결혼 30주년 선물로 뭐가 좋을지 아이디어 좀 줘. 예산은 30만 원 정도야.",
        "brainstorming",
        "ko",
    ),
    # --- open_qa ---------------------------------------------------------------------------
    DemoPrompt(
        "Why is the sky blue?",
        "open_qa",
        "en",
        reference=(
            "Sunlight contains all colours. When it passes through the air, the gas molecules "
            "scatter short wavelengths (blue and violet) much more strongly than long ones "
            "(red and orange). This scattered blue light reaches our eyes from every part of "
            "the sky, so the sky looks blue. We see blue rather than violet because the Sun "
            "gives off less violet light and our eyes are less sensitive to it."
        ),
    ),
    DemoPrompt("What is the difference between a virus and a bacterium?", "open_qa", "en"),
    DemoPrompt("How does a refrigerator keep food cold?", "open_qa", "en"),
    DemoPrompt("김치를 왜 발효 음식이라고 하나요?", "open_qa", "ko"),
    DemoPrompt("지구에서 달까지 거리는 대략 얼마나 되나요?", "open_qa", "ko"),
    DemoPrompt("커피를 마시면 왜 잠이 잘 안 오나요?", "open_qa", "ko"),
    # --- closed_qa: the answer must come from the passage ---------------------------------
    DemoPrompt(
        "When was the Eiffel Tower inaugurated, and which building overtook it as the "
        "tallest man-made structure?",
        "closed_qa",
        "en",
        input=(
            "The Eiffel Tower is a wrought-iron lattice tower on the Champ de Mars in Paris. "
            "It was designed by the engineering company of Gustave Eiffel and built as the "
            "entrance to the 1889 World's Fair. The tower was inaugurated on 31 March 1889. "
            "At 300 metres tall when it was completed, it was the tallest man-made structure "
            "in the world until the Chrysler Building in New York was finished in 1930."
        ),
    ),
    DemoPrompt(
        "According to the policy, how many days a week may employees work remotely, and who "
        "must approve exceptions?",
        "closed_qa",
        "en",
        input=(
            "Remote work policy (effective March 1). Employees may work remotely up to two "
            "days per week. Remote days must be entered in the team calendar by Friday of the "
            "previous week. Employees in their first three months work on site full time. "
            "Exceptions, such as a longer remote period for family reasons, must be approved "
            "in writing by the employee's manager and by HR."
        ),
    ),
    DemoPrompt(
        "Who created Python, and in what year was it first released?",
        "closed_qa",
        "en",
        input=(
            "Python is a high-level programming language created by Guido van Rossum. He "
            "began working on it in the late 1980s as a successor to the ABC language and "
            "first released it in 1991 as Python 0.9.0. Python 2.0 was released in 2000, and "
            "Python 3.0, a major revision that was not fully backward-compatible, followed in "
            "2008."
        ),
        reference=(
            "Python was created by Guido van Rossum, who first released it in 1991 "
            "(as Python 0.9.0)."
        ),
    ),
    DemoPrompt(
        "다음 글을 읽고, 훈민정음이 반포된 해와 처음 만들어졌을 때의 글자 수를 알려 주세요.",
        "closed_qa",
        "ko",
        input=(
            "훈민정음은 조선의 제4대 임금인 세종이 1443년에 창제하고 1446년에 반포한 "
            "문자이다. '백성을 가르치는 바른 소리'라는 뜻으로, 창제 당시에는 자음 17자와 "
            "모음 11자, 모두 28자로 이루어져 있었다. 오늘날에는 이 가운데 네 글자를 쓰지 "
            "않아 24자가 사용된다."
        ),
        reference=(
            "훈민정음은 1446년에 반포되었습니다. 처음 만들어졌을 때는 자음 17자와 모음 11자를 "
            "합쳐 모두 28자였습니다."
        ),
    ),
    DemoPrompt(
        "다음 안내문에 따르면 도서관은 언제 쉬고, 책은 한 번에 몇 권까지 빌릴 수 있나요?",
        "closed_qa",
        "ko",
        input=(
            "[햇살구립도서관 이용 안내] 운영 시간은 평일 오전 9시부터 오후 10시, 주말은 "
            "오전 9시부터 오후 6시까지입니다. 매주 월요일과 법정 공휴일은 휴관합니다. "
            "회원증이 있으면 한 번에 최대 5권까지 14일 동안 빌릴 수 있으며, 예약한 사람이 "
            "없으면 한 번에 한해 7일 연장할 수 있습니다."
        ),
    ),
    DemoPrompt(
        "다음 글에 따르면 한라산의 높이는 얼마이고, 제주도는 어떻게 만들어졌나요?",
        "closed_qa",
        "ko",
        input=(
            "제주도는 한반도 남쪽에 있는 우리나라에서 가장 큰 섬이다. 약 180만 년 전부터 "
            "이어진 화산 활동으로 만들어졌으며, 섬 한가운데에는 높이 1,947m의 한라산이 솟아 "
            "있다. 한라산은 남한에서 가장 높은 산이다. 섬 곳곳에는 '오름'이라고 부르는 작은 "
            "화산체가 360여 개 흩어져 있다."
        ),
    ),
    # --- summarization ---------------------------------------------------------------------
    DemoPrompt(
        "Summarize the following text in two sentences.",
        "summarization",
        "en",
        input=(
            "Sleep is not simply a time when the body shuts down. During sleep, the brain "
            "sorts and stores memories from the day, which is why students who sleep after "
            "studying tend to remember more than those who stay up all night. Sleep also "
            "helps the body repair muscles and regulate the hormones that control appetite; "
            "people who regularly sleep less than six hours are more likely to gain weight. "
            "Health experts recommend that adults get seven to nine hours each night and keep "
            "a regular schedule, even on weekends."
        ),
    ),
    DemoPrompt(
        "Summarize this email in one sentence for a busy manager.",
        "summarization",
        "en",
        input=(
            "Hi team, quick update on the website launch. The design is finished and approved "
            "by marketing. Development is about 80% done, but the payment integration is "
            "taking longer than expected because the provider changed its API last month. We "
            "now expect to finish development on June 12 instead of June 5. Testing takes one "
            "week after that, so the launch moves from June 14 to June 21. Nothing else "
            "changes. Let me know if the new date causes problems for your campaigns. - Priya"
        ),
    ),
    DemoPrompt(
        "Summarize these meeting notes as three bullet points.",
        "summarization",
        "en",
        input=(
            "Neighborhood association meeting, April 3. 24 residents attended. The city has "
            "approved the new crosswalk on Maple Street; construction starts in May. Residents "
            "complained about overflowing recycling bins on Elm Court, so the board will ask "
            "the city for a second pickup day. The spring cleanup is on Saturday, April 20, at "
            "9 a.m., meeting at the park entrance; gloves and bags will be provided. "
            "Membership dues stay at $20 per year. Next meeting: May 1."
        ),
    ),
    DemoPrompt(
        "다음 글을 두 문장으로 요약해 주세요.",
        "summarization",
        "ko",
        input=(
            "걷기는 특별한 장비 없이 누구나 할 수 있는 운동이다. 하루 30분 정도 빠르게 걸으면 "
            "심장과 폐 기능이 좋아지고, 혈압과 혈당을 낮추는 데도 도움이 된다. 햇볕을 쬐며 "
            "걸으면 기분을 좋게 하는 세로토닌 분비가 늘어나 스트레스를 푸는 데도 효과적이다. "
            "다만 처음부터 무리해서 오래 걷기보다는 10분씩 나누어 걷다가 조금씩 시간을 늘리는 "
            "것이 좋고, 발에 맞는 편한 신발을 신어야 다치지 않는다."
        ),
    ),
    DemoPrompt(
        "다음 공지를 한 문장으로 요약해 줘.",
        "summarization",
        "ko",
        input=(
            "[관리사무소 안내] 입주민 여러분께 알려 드립니다. 오래된 급수관 교체 공사로 "
            "5월 14일(화) 오전 9시부터 오후 5시까지 101동과 102동에 단수가 예정되어 있습니다. "
            "공사 시간 동안에는 물을 쓰실 수 없으니 필요한 만큼 미리 받아 두시기 바랍니다. "
            "공사 상황에 따라 끝나는 시간이 조금 늦어질 수 있으며, 문의 사항은 관리사무소"
            "(내선 100)로 연락해 주십시오. 협조해 주셔서 감사합니다."
        ),
        reference=(
            "5월 14일(화) 오전 9시부터 오후 5시까지 급수관 교체 공사로 101동과 102동에 물이 "
            "나오지 않으니 미리 물을 받아 두세요."
        ),
    ),
    DemoPrompt(
        "다음 기사 내용을 세 줄로 정리해 주세요.",
        "summarization",
        "ko",
        input=(
            "한빛시는 다음 달부터 공공자전거 '달림이'의 이용 요금을 1시간 1,000원에서 30분 "
            "500원으로 바꾼다고 밝혔다. 짧은 거리를 오가는 시민이 많다는 조사 결과에 따른 "
            "것이다. 또 지하철역 주변을 중심으로 대여소 50곳을 새로 만들어 모두 350곳으로 "
            "늘린다. 시 관계자는 “출퇴근 시간에 자전거가 모자란다는 민원이 많았다”며 "
            "“연말까지 자전거 1,000대를 더 배치할 계획”이라고 말했다."
        ),
    ),
    # --- classification --------------------------------------------------------------------
    DemoPrompt(
        "Classify each of these as a fruit or a vegetable: apple, carrot, banana, spinach, "
        "mango, broccoli.",
        "classification",
        "en",
        reference=("Fruits: apple, banana, mango.\nVegetables: carrot, spinach, broccoli."),
    ),
    DemoPrompt(
        "Is the sentiment of this product review positive, negative, or mixed? Answer with "
        "one word.",
        "classification",
        "en",
        input=(
            "The headphones sound great and the battery easily lasts a whole week, but they "
            "start to hurt my ears after an hour and the case feels cheap."
        ),
    ),
    DemoPrompt(
        "Which of these animals are mammals: dolphin, shark, bat, penguin, whale, frog?",
        "classification",
        "en",
    ),
    DemoPrompt(
        "다음 리뷰의 감정을 긍정, 부정, 중립 중 하나로 분류해 주세요.",
        "classification",
        "ko",
        input="주문한 지 이틀 만에 도착했고 품질도 사진이랑 똑같아서 정말 만족해요.",
    ),
    DemoPrompt(
        "다음 단어들을 과일과 채소로 나눠 줘: 사과, 배추, 포도, 오이, 귤, 시금치",
        "classification",
        "ko",
    ),
    DemoPrompt(
        "다음 고객 문의가 배송, 환불, 제품 불량, 기타 중 어느 유형인지 고르고, 이유를 한 "
        "줄로 설명해 주세요.",
        "classification",
        "ko",
        input="지난주에 산 전기포트가 오늘 아침부터 전원이 아예 안 들어와요. 교환 가능한가요?",
    ),
    # --- information_extraction ------------------------------------------------------------
    DemoPrompt(
        "List every date in the text below and what happens on it.",
        "information_extraction",
        "en",
        input=(
            "Conference registration opens on March 3 and closes on April 15. Speakers must "
            "submit their slides by May 2. The conference itself runs from May 20 to May 22 "
            "in Lisbon."
        ),
    ),
    DemoPrompt(
        "From this job posting, extract the job title, location, salary range and required "
        "experience.",
        "information_extraction",
        "en",
        input=(
            "We are hiring a Junior Data Analyst to join our team in Manchester. You will "
            "build weekly sales reports and help the marketing team measure campaigns. "
            "Requirements: at least one year of experience with SQL and spreadsheets; Python "
            "is a plus. Salary: £28,000-£32,000 per year, plus 25 days of holiday. Hybrid "
            "work: three days a week in the office."
        ),
    ),
    DemoPrompt(
        "Name every person mentioned in the passage and their role.",
        "information_extraction",
        "en",
        input=(
            "At Tuesday's launch event, CEO Maria Lopez introduced the new app, while lead "
            "designer Tom Becker explained how the interface was tested with older users. The "
            "evening ended with a short talk by Dr. Aisha Khan, a researcher who advised the "
            "team on accessibility."
        ),
    ),
    DemoPrompt(
        "다음 문자 메시지에서 예약 날짜, 시간, 장소, 인원을 뽑아 주세요.",
        "information_extraction",
        "ko",
        input=(
            "[한울식당] 김민수 고객님, 6월 8일(토) 저녁 7시 30분 4명 예약이 확정되었습니다. "
            "장소: 서울 마포구 연남로 12, 2층. 변경이나 취소는 하루 전까지 연락 부탁드립니다."
        ),
        reference=(
            "- 날짜: 6월 8일(토)\n- 시간: 저녁 7시 30분\n- 장소: 서울 마포구 연남로 12, 2층 "
            "한울식당\n- 인원: 4명"
        ),
    ),
    DemoPrompt(
        "다음 글에 나오는 사람 이름과 직업을 모두 정리해 주세요.",
        "information_extraction",
        "ko",
        input=(
            "이번 마을 축제는 동네 빵집을 하는 박지현 씨가 처음 제안했다. 초등학교 교사인 "
            "이준호 씨는 아이들과 함께 공연을 준비했고, 사진작가 최유나 씨는 축제 현장을 "
            "기록하는 일을 맡았다."
        ),
    ),
    DemoPrompt(
        "다음 제품 설명에서 제품명, 가격, 무게, 배터리 사용 시간을 뽑아서 표로 보여 주세요.",
        "information_extraction",
        "ko",
        input=(
            "새로 나온 '에어라이트 14' 노트북은 무게가 1.12kg밖에 되지 않아 들고 다니기 "
            "좋습니다. 한 번 충전하면 최대 18시간까지 쓸 수 있고, 출시 가격은 129만 원입니다."
        ),
    ),
    # --- creative_writing ------------------------------------------------------------------
    DemoPrompt(
        "Write a short poem about a cat watching the rain from a window.",
        "creative_writing",
        "en",
    ),
    DemoPrompt(
        "Write the opening paragraph of a mystery story set in a small seaside town.",
        "creative_writing",
        "en",
    ),
    DemoPrompt(
        "Write a friendly two-sentence birthday message for a coworker who loves hiking.",
        "creative_writing",
        "en",
    ),
    DemoPrompt("첫눈 오는 날을 주제로 짧은 시를 써 주세요.", "creative_writing", "ko"),
    DemoPrompt(
        "할머니 댁에서 보낸 여름방학을 떠올리는 짧은 수필을 한 단락 써 줘.",
        "creative_writing",
        "ko",
    ),
    DemoPrompt(
        "우주 정거장에서 일하는 로봇이 주인공인 동화의 첫 장면을 써 주세요. 초등학생이 "
        "읽기 쉽게 써 주세요.",
        "creative_writing",
        "ko",
    ),
    # --- general_qa ------------------------------------------------------------------------
    DemoPrompt("What are some tips for getting better sleep?", "general_qa", "en"),
    DemoPrompt(
        "How do I politely decline a meeting invitation from my manager?", "general_qa", "en"
    ),
    DemoPrompt(
        "Should I learn Python or JavaScript as my first programming language?",
        "general_qa",
        "en",
    ),
    DemoPrompt(
        "처음으로 혼자 자취를 시작하는데, 꼭 준비해야 할 것들이 뭐가 있을까요?",
        "general_qa",
        "ko",
    ),
    DemoPrompt("영어 회화 실력을 늘리려면 어떻게 공부하는 게 좋을까요?", "general_qa", "ko"),
    DemoPrompt("면접에서 자기소개를 할 때 주의할 점을 알려 주세요.", "general_qa", "ko"),
    # --- rewriting -------------------------------------------------------------------------
    DemoPrompt(
        "Rewrite this message so it sounds polite and professional.",
        "rewriting",
        "en",
        input="hey, the report u sent is wrong again. fix it asap, i need it today.",
        reference=(
            "Hi, I noticed a few errors in the report you sent. Could you please correct "
            "them and send me the updated version today? I need it before the end of the "
            "day. Thank you!"
        ),
    ),
    DemoPrompt(
        "Rewrite the following sentence in simple English for a ten-year-old.",
        "rewriting",
        "en",
        input=(
            "Photosynthesis is the process by which green plants use sunlight to convert "
            "carbon dioxide and water into glucose, releasing oxygen as a by-product."
        ),
    ),
    DemoPrompt(
        "Fix the grammar and spelling in this text.",
        "rewriting",
        "en",
        input=(
            "Me and my freind goes to the libary every tuesday, becuase they has a good "
            "selection of comic books."
        ),
    ),
    DemoPrompt(
        "다음 문장을 회사 상사에게 보내는 정중한 말투로 바꿔 주세요.",
        "rewriting",
        "ko",
        input="내일 회의 못 갈 것 같아요. 자료는 메일로 보낼게요.",
    ),
    DemoPrompt(
        "다음 글을 초등학생도 이해할 수 있게 쉬운 말로 바꿔 써 주세요.",
        "rewriting",
        "ko",
        input=(
            "기후 변화란 온실가스 배출 증가로 지구의 평균 기온이 올라가고, 그에 따라 강수 "
            "패턴과 해수면 등 기후 체계 전반이 장기적으로 변하는 현상을 말한다."
        ),
    ),
    DemoPrompt(
        "다음 문장의 맞춤법과 띄어쓰기를 고쳐 주세요.",
        "rewriting",
        "ko",
        input="오늘 날씨가 너무 추워서 밖에 나가기 실어요. 그래도 약속이 있으니까 나가야되요.",
        reference="오늘 날씨가 너무 추워서 밖에 나가기 싫어요. 그래도 약속이 있으니까 나가야 돼요.",
    ),
    # --- coding ----------------------------------------------------------------------------
    DemoPrompt(
        "Write a Python function that returns True if a string is a palindrome, ignoring "
        "case and spaces.",
        "coding",
        "en",
        reference=(
            "```python\n"
            "def is_palindrome(text: str) -> bool:\n"
            '    cleaned = text.replace(" ", "").lower()\n'
            "    return cleaned == cleaned[::-1]\n"
            "```\n"
            "It removes spaces, lowercases the text and compares it with its reverse, so "
            '`is_palindrome("Never odd or even")` returns `True`.'
        ),
    ),
    DemoPrompt(
        "Explain what this Python code prints and why.",
        "coding",
        "en",
        input="numbers = [3, 1, 4, 1, 5]\nprint(sorted(set(numbers)))",
    ),
    DemoPrompt(
        "Write a Python function that counts how many times each word appears in a sentence "
        "and returns a dictionary.",
        "coding",
        "en",
    ),
    DemoPrompt(
        "파이썬으로 1부터 100까지의 숫자 중 짝수의 합을 구하는 코드를 작성해 주세요.",
        "coding",
        "ko",
        reference=(
            "```python\n"
            "total = sum(range(2, 101, 2))\n"
            "print(total)  # 2550\n"
            "```\n"
            "`range(2, 101, 2)`는 2부터 100까지 2씩 커지는 짝수를 만들고, `sum`으로 모두 "
            "더합니다."
        ),
    ),
    DemoPrompt(
        "다음 파이썬 코드에서 오류가 나는 이유를 설명하고 고쳐 주세요.",
        "coding",
        "ko",
        input='age = input("나이를 입력하세요: ")\nprint(age + 1)',
    ),
    DemoPrompt("파이썬에서 리스트와 튜플의 차이를 간단한 예제와 함께 설명해 줘.", "coding", "ko"),
    # --- conversations: the next user turn of an exchange --------------------------------------
    DemoPrompt(
        "Can you make it vegetarian?",
        "open_qa",
        "en",
        history=(
            {"role": "user", "content": "Suggest a quick dinner for two."},
            {
                "role": "assistant",
                "content": "Chicken stir-fry: chicken, peppers, soy sauce and rice, in 20 minutes.",
            },
        ),
        reference="Yes: use firm tofu instead of chicken, pressed and cubed, and keep the rest.",
    ),
    DemoPrompt(
        "그럼 비 오는 날에는 어디가 좋아요?",
        "open_qa",
        "ko",
        history=(
            {"role": "user", "content": "서울에서 하루 여행할 곳을 추천해 주세요."},
            {"role": "assistant", "content": "경복궁과 북촌 한옥마을을 걸어 보세요."},
        ),
        reference="국립중앙박물관이나 코엑스 별마당 도서관처럼 실내에서 즐길 곳이 좋아요.",
    ),
)
